#include "core/handoff.hpp"

#include <corobus/runtime/error.hpp>

namespace corobus::detail {

void handoff::detach_for(const subscriber& sub, incoming_message& in) {
  if (sub.needs_own_copy()) in.detach_from_transport();
}

bool handoff::try_deliver(subscriber& sub, incoming_message& in) {
  detach_for(sub, in);
  stats_.accepted.add();  // as in deliver()
  if (sub.try_deliver(in) == push_status::pushed) return true;
  stats_.accepted.subtract();
  return false;
}

asio::awaitable<bool> handoff::deliver(subscriber& sub, incoming_message in, on_cancel cancel) {
  if (try_deliver(sub, in)) co_return true;  // detached for `sub` there, if it must be
  // Full, or ended meanwhile: wait for room (deliver() throws errc::closed once it ended).
  stats_.accepted.add();  // before the hand-over, so that the message's end is never counted before its start
  bool refused = false;
  try {
    co_await sub.deliver(std::move(in), cancel);
  } catch (const boost::system::system_error& e) {
    if (e.code() != errc::closed) {  // cancelled: not handed over either
      stats_.accepted.subtract();
      throw;
    }
    refused = true;
  }
  if (refused) {  // the subscription ended (or the bus closes) meanwhile
    stats_.accepted.subtract();
    if (closing_.load(std::memory_order_acquire)) throw_error(errc::closed, "publish: the bus is closed");
  }
  co_return !refused;
}

}  // namespace corobus::detail
