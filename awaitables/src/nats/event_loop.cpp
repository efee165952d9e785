#include "nats/event_loop.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace corobus::nats::detail {

event_loop::event_loop(connection::strand_type strand, std::function<void()> after_read)
    : strand_(std::move(strand)), after_read_(std::move(after_read)) {}

// cnats calls in with its connection lock held, from its own threads: never call back into
// it here; on the strand, act at once (ProcessReadEvent/WriteEvent call in from there).
template <class F>
void event_loop::on_strand(F f) {
  if (strand_.running_in_this_thread())
    f();
  else
    asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable { f(); });
}

natsStatus event_loop::attach(void** user, void* loop, natsConnection* nc, natsSock socket) {
  auto* self = static_cast<event_loop*>(loop);
  *user = self;
  // The first on the connecting thread, later ones on cnats's reconnect thread, each with a
  // new socket (often the same number: never let asio close it). cnats never asks for read
  // interest itself: polling starts here.
  self->on_strand([self, nc, socket] {
    self->let_go_of_socket();
    if (self->stopped_) return;  // closing: cnats will close this one too
    self->nc_ = nc;
    self->socket_.emplace(self->strand_, socket);
    self->want_read_ = true;
    self->arm_read();
    self->arm_write();
  });
  return NATS_OK;
}

natsStatus event_loop::read(void* user, bool add) {
  auto* self = static_cast<event_loop*>(user);
  self->on_strand([self, add] {
    self->want_read_ = add;
    if (add) self->arm_read();
    if (!self->want_read_ && !self->want_write_) self->let_go_of_socket();  // a disconnect: cnats closes it now
  });
  return NATS_OK;
}

natsStatus event_loop::write(void* user, bool add) {
  auto* self = static_cast<event_loop*>(user);
  self->on_strand([self, add] {
    self->want_write_ = add;
    if (add) self->arm_write();
    if (!self->want_read_ && !self->want_write_) self->let_go_of_socket();
  });
  return NATS_OK;
}

natsStatus event_loop::detach(void* user) {
  auto* self = static_cast<event_loop*>(user);
  self->on_strand([self] {
    self->let_go_of_socket();
    self->detached_ = true;
    self->nc_ = nullptr;
    self->detached_promise_.set_value();
  });
  return NATS_OK;
}

bool event_loop::stop_polling(std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::promise<void>>();
  auto stopped = done->get_future();
  asio::post(strand_, [self = shared_from_this(), done] {
    self->stopped_ = true;
    self->let_go_of_socket();
    done->set_value();
  });
  return stopped.wait_for(timeout) == std::future_status::ready;
}

bool event_loop::wait_detached(std::chrono::milliseconds timeout) {
  return detached_future_.wait_for(timeout) == std::future_status::ready;
}

void event_loop::let_go_of_socket() {
  if (!socket_) return;
  socket_->release();  // its waits end with operation_aborted; their generation is old
  socket_.reset();
  ++generation_;
  reading_ = writing_ = false;
}

void event_loop::arm_read() {
  // One read (at most its buffer) per event, by design; asio's wait fires again while data is
  // left. An error is cnats's to see (it reconnects).
  arm(asio::posix::stream_descriptor::wait_read, reading_, want_read_, [](event_loop& self) {
    natsConnection_ProcessReadEvent(self.nc_);
    if (self.after_read_) self.after_read_();
  });
}

void event_loop::arm_write() {
  // One write; cnats says write(false) here once its buffer is empty.
  arm(asio::posix::stream_descriptor::wait_write, writing_, want_write_,
      [](event_loop& self) { natsConnection_ProcessWriteEvent(self.nc_); });
}

// Waits for `what` on the current socket unless a wait is pending (`busy`) or not wanted; on
// readiness runs `process`, then waits again. A wait on an older socket is ignored.
template <class Process>
void event_loop::arm(asio::posix::stream_descriptor::wait_type what, bool& busy, const bool& wanted, Process process) {
  if (!socket_ || busy || !wanted || detached_ || stopped_) return;
  busy = true;
  socket_->async_wait(what, [self = shared_from_this(), gen = generation_, &busy, &wanted, what,
                             process](boost::system::error_code ec) {
    if (gen != self->generation_) return;
    busy = false;
    if (ec == asio::error::operation_aborted || self->detached_ || !wanted) return;
    process(*self);
    self->arm(what, busy, wanted, process);
  });
}

}  // namespace corobus::nats::detail
