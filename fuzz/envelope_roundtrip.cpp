// libFuzzer target: envelopes built from the fuzzer's bytes, field by field, must either be
// refused by problem() (and encode) or come back from decode(encode(e)) equal
// (envelope_checks.hpp). `./dev fuzz` builds and runs it.
#include "envelope_checks.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>

namespace {

// Mostly short strings, so envelopes often get past the rules on the other fields.
std::string field(FuzzedDataProvider& in) { return in.ConsumeRandomLengthString(64); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  corobus::envelope e;
  e.event_id = field(in);
  e.aggregate_id = field(in);
  e.event_type = field(in);
  // Small versions are the valid ones; the whole range is there too.
  e.event_version =
      in.ConsumeBool() ? in.ConsumeIntegralInRange<std::int64_t>(-1, 3) : in.ConsumeIntegral<std::int64_t>();
  e.timestamp = std::chrono::system_clock::time_point(std::chrono::nanoseconds(in.ConsumeIntegral<std::int64_t>()));
  e.trace_id = field(in);
  e.correlation_id = field(in);
  e.tenant_id = field(in);
  e.payload = in.ConsumeRemainingBytesAsString();
  if (auto failure = corobus::checks::check_round_trip(e)) {
    std::fprintf(stderr, "envelope_roundtrip: %s\n", failure->c_str());
    std::abort();
  }
  return 0;
}
