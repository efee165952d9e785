// libFuzzer target: envelope::decode over arbitrary bytes, checked against Boost.JSON's DOM and
// through a round trip (envelope_checks.hpp). `./dev fuzz` builds and runs it.
#include "envelope_checks.hpp"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto failure = corobus::checks::check_decode(text)) {
    std::fprintf(stderr, "envelope_decode: %s\n", failure->c_str());
    std::abort();
  }
  return 0;
}
