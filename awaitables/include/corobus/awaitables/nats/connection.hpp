#pragma once
// A cnats connection whose socket I/O runs on an asio strand (natsOptions_SetEventLoop), so
// no cnats thread reads from the socket and nothing delivers messages on a thread of its own:
// the owner drains synchronous subscriptions on the strand after each read event.
//
// cnats calls the loop's callbacks from its own threads (the connecting thread, the flusher,
// the reconnect and timer threads) while it holds its connection lock, so each callback only
// posts to the strand (or, when it already runs there, acts at once). cnats closes the socket
// itself, and reuses the descriptor's number on reconnect: asio only ever release()s it.
#include <corobus/awaitables/nats/library.hpp>
#include <corobus/awaitables/nats_security.hpp>
#include <corobus/runtime/asio.hpp>

#include <nats/nats.h>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace corobus::nats {

struct connect_options {
  // A constructor, not an aggregate: see publish_options for the g++ 12 rule.
  connect_options() = default;
  explicit connect_options(std::string url) : url(std::move(url)) {}

  std::string url;                          // one, or a comma-separated list (the nodes of a cluster)
  std::chrono::milliseconds timeout{2000};  // to connect, and for the flush at close
  bool allow_reconnect = true;
  int max_reconnect = -1;  // forever
  std::chrono::milliseconds reconnect_wait{200};
  // Writes go out when they are made, not after cnats's flusher thread waited a millisecond
  // to gather them: a publish from the strand is written at the strand's next turn, and
  // what the strand makes in one turn still goes out together.
  bool send_asap = true;
  nats_security security;
};

// What the connection went through, readable from any thread.
struct connection_state {
  bool connected = false;
  std::uint64_t disconnects = 0;
  std::uint64_t reconnects = 0;
  std::string last_error;  // cnats's text for the last asynchronous error, if any
  std::string server;      // the URL of the server it is connected to, while connected
};

namespace detail {
class event_loop;
struct connection_events;
}  // namespace detail

class connection {
 public:
  using strand_type = asio::strand<asio::any_io_executor>;

  // Connects, blocking until the server answered or `options.timeout` passed (a system_error
  // in the nats category naming the cause). Never on one of the strand's io threads (run it
  // on a blocking_pool): the handshake waits for the strand. `after_read` runs on the strand
  // after each read event.
  // `after_reconnect` runs on the strand once the connection is back after a disconnect
  // (the place to send fresh pulls: the server forgot the old ones).
  connection(strand_type strand, const connect_options& options, std::function<void()> after_read,
             std::function<void()> after_reconnect = {});
  // close(); blocking, not on an io thread.
  ~connection();

  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  natsConnection* handle() const noexcept { return nc_; }
  // The largest message (headers and payload) the server takes, as it said when connecting.
  std::size_t max_payload() const noexcept { return static_cast<std::size_t>(natsConnection_GetMaxPayload(nc_)); }
  connection_state state() const;
  const strand_type& get_executor() const noexcept { return strand_; }

  // Flushes what is buffered (the strand must still run), closes the connection, waits until
  // the strand let go of the socket, and destroys it. Idempotent; blocking, not on an io thread.
  void close();

 private:
  library_use library_;
  strand_type strand_;
  std::shared_ptr<detail::event_loop> loop_;
  std::shared_ptr<detail::connection_events> events_;
  std::chrono::milliseconds timeout_;
  natsConnection* nc_ = nullptr;
};

}  // namespace corobus::nats
