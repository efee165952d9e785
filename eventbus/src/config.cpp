#include <corobus/eventbus/config.hpp>
#include <corobus/runtime/error.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace corobus {

std::chrono::milliseconds retry_policy::backoff_before(unsigned attempt) const {
  auto b = initial_backoff;
  for (unsigned i = 2; i < attempt && b < max_backoff; ++i) b *= 2;
  return std::min(b, max_backoff);
}

namespace {

void require(bool ok, const char* what) {
  if (!ok) throw_error(errc::invalid_config, fmt::format("invalid configuration: {}", what));
}

}  // namespace

void config::validate() const {
  require(backend == backend_kind::memory || backend == backend_kind::kafka || backend == backend_kind::nats,
          "backend is not one of memory, kafka, nats");
  require(io_threads <= 1024, "io_threads must be at most 1024");
  require(lanes >= 1 && lanes <= 65536, "lanes must be between 1 and 65536");
  require(lane_capacity >= 1 && lane_capacity <= 1'000'000, "lane_capacity must be between 1 and 1000000");
  require(concurrency >= 1 && concurrency <= 65536, "concurrency must be between 1 and 65536");
  require(stream_capacity >= 1 && stream_capacity <= 1'000'000, "stream_capacity must be between 1 and 1000000");
  require(retry.attempts >= 1 && retry.attempts <= 1000, "retry.attempts must be between 1 and 1000");
  require(retry.initial_backoff.count() >= 0, "retry.initial_backoff must not be negative");
  require(retry.max_backoff >= retry.initial_backoff, "retry.max_backoff must be >= retry.initial_backoff");
  require(close_grace.count() >= 0, "close_grace must not be negative");
}

}  // namespace corobus
