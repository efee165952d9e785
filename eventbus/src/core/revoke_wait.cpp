#include "core/revoke_wait.hpp"
#include "core/revoke_sequence.hpp"

#include <boost/asio/as_tuple.hpp>

namespace corobus::detail {

asio::awaitable<bool> wait_for_revoked_handlers(asio::steady_timer& wake, std::chrono::milliseconds timeout,
                                                std::function<std::size_t()> running, std::function<bool()> gone) {
  const auto& cancellation = co_await asio::this_coro::cancellation_state;
  const auto cancelled = [&cancellation] { return cancellation.cancelled() != asio::cancellation_type::none; };
  const revoke_sequence sequence(std::chrono::steady_clock::now(), timeout);
  auto step = sequence.decide(running(), std::chrono::steady_clock::now(), cancelled());
  while (step.then == revoke_sequence::step::next::wait) {
    wake.expires_at(step.wait_until);
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
    if (gone && gone()) co_return false;
    step = sequence.decide(running(), std::chrono::steady_clock::now(), cancelled());
  }
  co_return step.interrupt;
}

}  // namespace corobus::detail
