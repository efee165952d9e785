#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/library.hpp>
#include <corobus/runtime/log.hpp>

#include <cstddef>
#include <mutex>

namespace corobus::nats {
namespace {

std::mutex mutex;  // nats_Open and nats_Close must not run concurrently
std::size_t users = 0;

}  // namespace

library_use::library_use() {
  std::lock_guard lock(mutex);
  if (users == 0) throw_if(nats_Open(-1), "opening the NATS client library");
  ++users;
}

library_use::~library_use() {
  std::lock_guard lock(mutex);
  if (--users != 0) return;
  if (const auto s = nats_CloseAndWait(5000); s != NATS_OK)
    log().warn("closing the NATS client library: {}", natsStatus_GetText(s));
}

}  // namespace corobus::nats
