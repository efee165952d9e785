#include <corobus/eventbus/envelope.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <random>

namespace corobus {

std::string make_uuid_v7(std::chrono::system_clock::time_point now) {
  // RFC 9562 method 1: rand_a (12 bits) is a counter within the millisecond, so ids made by
  // one thread sort in creation order; when it overflows the timestamp moves on by one.
  struct state {
    std::mt19937_64 random{std::random_device{}()};
    std::uint64_t last_ms = 0;
    std::uint16_t counter = 0;
  };
  thread_local state st;

  auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  if (ms <= st.last_ms) {
    if (++st.counter > 0x0fff) {
      st.counter = 0;
      ++st.last_ms;
    }
    ms = st.last_ms;
  } else {
    st.last_ms = ms;
    st.counter = static_cast<std::uint16_t>(st.random() & 0x07ff);  // room to count up
  }
  const std::uint64_t rand_b = st.random();

  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<std::uint8_t>(0x70 | (st.counter >> 8));
  b[7] = static_cast<std::uint8_t>(st.counter);
  for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<std::uint8_t>(rand_b >> (56 - 8 * i));
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3f));  // RFC 4122 variant

  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[b[i] >> 4]);
    out.push_back(hex[b[i] & 0x0f]);
  }
  return out;
}

}  // namespace corobus
