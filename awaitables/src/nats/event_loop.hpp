#pragma once
// The asio side of natsOptions_SetEventLoop (see connection.hpp for the rules it follows).
#include <corobus/awaitables/nats/connection.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstdint>
#include <future>
#include <optional>

namespace corobus::nats::detail {

class event_loop : public std::enable_shared_from_this<event_loop> {
 public:
  event_loop(connection::strand_type strand, std::function<void()> after_read);

  // The callbacks cnats calls; `loop` and `user` are this object.
  static natsStatus attach(void** user, void* loop, natsConnection* nc, natsSock socket);
  static natsStatus read(void* user, bool add);
  static natsStatus write(void* user, bool add);
  static natsStatus detach(void* user);

  // Before natsConnection_Close (which closes the socket on the calling thread): blocks until
  // the strand let go of the socket and will not poll it again, so asio never touches the
  // descriptor while or after cnats closes it (cnats 3.4.1 has no ProcessCloseEvent).
  // False when the strand did not get to it within `timeout`.
  bool stop_polling(std::chrono::milliseconds timeout);
  // Blocks until the strand handled detach (true), or `timeout` passed.
  bool wait_detached(std::chrono::milliseconds timeout);

 private:
  template <class F>
  void on_strand(F f);
  void arm_read();
  void arm_write();
  template <class Process>
  void arm(asio::posix::stream_descriptor::wait_type what, bool& busy, const bool& wanted, Process process);
  void let_go_of_socket();

  connection::strand_type strand_;
  std::function<void()> after_read_;
  // Strand state.
  natsConnection* nc_ = nullptr;
  std::optional<asio::posix::stream_descriptor> socket_;
  std::uint64_t generation_ = 0;  // one per socket: a wait on an older one is ignored
  bool want_read_ = false;
  bool want_write_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool detached_ = false;
  bool stopped_ = false;  // stop_polling(): no socket is polled again
  std::promise<void> detached_promise_;
  std::future<void> detached_future_ = detached_promise_.get_future();
};

}  // namespace corobus::nats::detail
