#pragma once
// A gate (Seastar's model): work enters it and leaves it, and closing it refuses new entries
// and completes once everything that entered has left. Nothing polls: the last leave()
// completes the waiting close.
//
//   auto h = g.enter("publish");   // throws errc::closed once closing began
//   ...                            // h leaves when destroyed
//   co_await g.async_close();      // any completion token; cancellable through its slot
//
// Thread-safe: entries and leaves from any thread; a close completes on its handler's
// associated executor (never inside the call that starts it).
#include <corobus/runtime/asio.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace corobus {

class gate {
 public:
  using close_signature = void(boost::system::error_code);

  // One entry; leaves when destroyed or released. Movable, not copyable.
  class holder {
   public:
    holder() = default;
    holder(holder&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    holder& operator=(holder&& other) noexcept {
      if (this != &other) {
        release();
        gate_ = std::exchange(other.gate_, nullptr);
      }
      return *this;
    }
    ~holder() { release(); }
    void release() noexcept {
      if (auto* g = std::exchange(gate_, nullptr)) g->leave();
    }
    explicit operator bool() const noexcept { return gate_ != nullptr; }

   private:
    friend class gate;
    explicit holder(gate& g) noexcept : gate_(&g) {}
    gate* gate_ = nullptr;
  };

  gate() = default;
  gate(const gate&) = delete;
  gate& operator=(const gate&) = delete;
  // Destroy it only once nothing is inside (a holder would leave into freed memory).
  ~gate() = default;

  // Enters; throws system_error(errc::closed) saying `what` was refused once closing began.
  holder enter(std::string_view what);
  // Enters, unless closing began.
  std::optional<holder> try_enter();

  std::size_t count() const;
  bool closed() const;

  // Refuses new entries, then completes (with no error) once nothing is inside: at once when
  // the gate is empty. Cancellation through the token's slot completes it with
  // operation_aborted; the gate stays closed and may be waited for again.
  template <asio::completion_token_for<close_signature> Token = asio::use_awaitable_t<>>
  auto async_close(Token&& token = {}) {
    return asio::async_initiate<Token, close_signature>(
        [this](auto handler) { start_close(asio::any_completion_handler<close_signature>(std::move(handler))); },
        token);
  }

  // Refuses new entries; does not wait.
  void close() noexcept;
  // For a thread outside the io threads (close() of a bus): refuses new entries and blocks
  // until nothing is inside or `timeout` passed; true when empty.
  bool close_and_wait_for(std::chrono::steady_clock::duration timeout);

 private:
  struct waiter {
    std::uint64_t id;
    asio::any_completion_handler<close_signature> handler;
    asio::any_completion_executor work;  // tracked: the handler's context keeps running meanwhile
  };

  void leave() noexcept;
  void start_close(asio::any_completion_handler<close_signature> handler);
  void cancel_close(std::uint64_t id);
  static void complete(waiter w, boost::system::error_code ec);

  mutable std::mutex mutex_;
  std::condition_variable empty_;
  std::size_t count_ = 0;
  bool closed_ = false;
  std::vector<waiter> waiters_;
  std::uint64_t next_id_ = 0;
};

}  // namespace corobus
