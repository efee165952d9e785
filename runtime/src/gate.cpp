#include <corobus/runtime/error.hpp>
#include <corobus/runtime/gate.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/system_executor.hpp>

#include <algorithm>
#include <string>

namespace corobus {

gate::holder gate::enter(std::string_view what) {
  auto h = try_enter();
  if (!h) throw_error(errc::closed, std::string(what) + ": closing");
  return std::move(*h);
}

std::optional<gate::holder> gate::try_enter() {
  std::lock_guard lock(mutex_);
  if (closed_) return std::nullopt;
  ++count_;
  return holder(*this);
}

std::size_t gate::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

bool gate::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

void gate::leave() noexcept {
  std::vector<waiter> done;
  {
    std::lock_guard lock(mutex_);
    if (--count_ != 0 || !closed_) return;
    done.swap(waiters_);
    empty_.notify_all();
  }
  for (auto& w : done) complete(std::move(w), {});
}

void gate::complete(waiter w, boost::system::error_code ec) {
  // The slot's handler must go before the operation completes (asio's rule), and the
  // completion runs on the handler's own executor, never inside a leave() of another thread's.
  asio::get_associated_cancellation_slot(w.handler).clear();
  const auto ex = asio::prefer(w.work, asio::execution::blocking.never);
  ex.execute([h = std::move(w.handler), work = std::move(w.work), ec]() mutable { std::move(h)(ec); });
}

void gate::start_close(asio::any_completion_handler<close_signature> handler) {
  const auto ex = asio::get_associated_executor(handler, asio::system_executor());
  waiter w{0, std::move(handler),
           asio::prefer(asio::any_completion_executor(ex), asio::execution::outstanding_work.tracked)};
  std::unique_lock lock(mutex_);
  closed_ = true;
  if (count_ == 0) {
    lock.unlock();
    complete(std::move(w), {});
    return;
  }
  w.id = next_id_++;
  if (auto slot = asio::get_associated_cancellation_slot(w.handler); slot.is_connected())
    slot.assign([this, id = w.id](asio::cancellation_type) { cancel_close(id); });
  waiters_.push_back(std::move(w));
}

void gate::cancel_close(std::uint64_t id) {
  std::unique_lock lock(mutex_);
  const auto it = std::find_if(waiters_.begin(), waiters_.end(), [id](const waiter& w) { return w.id == id; });
  if (it == waiters_.end()) return;
  auto w = std::move(*it);
  waiters_.erase(it);
  lock.unlock();
  complete(std::move(w), asio::error::operation_aborted);
}

void gate::close() noexcept {
  std::lock_guard lock(mutex_);
  closed_ = true;
}

bool gate::close_and_wait_for(std::chrono::steady_clock::duration timeout) {
  std::unique_lock lock(mutex_);
  closed_ = true;
  return empty_.wait_for(lock, timeout, [this] { return count_ == 0; });
}

}  // namespace corobus
