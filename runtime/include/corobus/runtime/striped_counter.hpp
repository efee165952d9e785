#pragma once
// A counter that many threads bump often and few read: each thread adds to its own cache
// line (one of a few stripes), and a read sums the stripes. Bumping a single shared atomic
// from every io thread costs a cache-line transfer per message.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace corobus {

class striped_counter {
 public:
  void add(std::uint64_t n = 1) noexcept { slots_[stripe()].value.fetch_add(n, std::memory_order_relaxed); }
  // Wraps per stripe; the sum is right because unsigned arithmetic is modular.
  void subtract(std::uint64_t n = 1) noexcept { slots_[stripe()].value.fetch_sub(n, std::memory_order_relaxed); }

  std::uint64_t load() const noexcept {
    std::uint64_t sum = 0;
    for (const auto& s : slots_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr std::size_t stripes = 8;
  struct alignas(64) slot {
    std::atomic<std::uint64_t> value{0};
  };

  static std::size_t stripe() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % stripes;
    return mine;
  }

  std::array<slot, stripes> slots_{};
};

}  // namespace corobus
