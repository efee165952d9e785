#pragma once
// JetStream publishes from the event loop: each record goes out as a plain NATS message with a
// reply subject of its own (reply_router), and its publish completes on the stream's PubAck.
// Never js_Publish (it blocks on a reply only the loop reads) nor js_PublishAsync (its acks
// come on a thread of cnats's own, and without MaxWait a lost ack never completes). Many may
// be in flight at once; each has a deadline.
#include <corobus/awaitables/nats/reply_router.hpp>
#include <corobus/runtime/async_op.hpp>
#include <corobus/runtime/header.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace corobus::nats {

// What the stream stored.
struct pub_ack {
  std::string stream;
  std::uint64_t sequence = 0;
  bool duplicate = false;  // a repeat of a Nats-Msg-Id within the stream's duplicate window
  // When the publish failed: the server's description of a JetStream error ("header size
  // exceeds maximum allowed of 64k"), or cnats's of one it refused before sending.
  std::string error;
};

// JetStream API errors (the PubAck's err_code: 10060 wrong expected stream, 10071 wrong last
// sequence, ...) as a `jetstream` error category.
const boost::system::error_category& jetstream_category() noexcept;

struct outgoing_message {
  // A constructor, not an aggregate: see publish_options for the g++ 12 rule.
  outgoing_message(std::string subject, std::string payload)
      : subject(std::move(subject)), payload(std::move(payload)) {}

  std::string subject;
  std::string payload;
  corobus::headers headers;
  std::string msg_id;  // sent as Nats-Msg-Id when set: stored once within the duplicate window
};

class jetstream_publisher {
 public:
  using completion_signature = void(boost::system::error_code, pub_ack);

  // Both on the same connection; used on its strand (the publish initiation dispatches there).
  jetstream_publisher(connection& conn, reply_router& replies) : conn_(conn), replies_(replies) {}

  // Completes with the PubAck, or: NATS_TIMEOUT when no answer came within `timeout` (the
  // message may still have been stored: publish again with the same msg_id), also when no
  // stream stores the subject (cnats's synchronous subscriptions swallow the server's 503
  // together with its subject, so it cannot be routed: the owner checks that the stream
  // exists first); a jetstream_category() error the stream refused it with. Cancellation
  // does not withdraw it: the wait ends at its deadline.
  template <class Token = default_token>
  auto async_publish(outgoing_message m, std::chrono::milliseconds timeout, Token&& token = {}) {
    return asio::async_initiate<Token, completion_signature>(
        [this](auto handler, outgoing_message msg, std::chrono::milliseconds t) {
          asio::dispatch(conn_.get_executor(),
                         [this, h = any_handler_of<pub_ack>(std::move(handler)), msg = std::move(msg), t]() mutable {
                           start(std::move(msg), t, std::move(h));
                         });
        },
        token, std::move(m), timeout);
  }

 private:
  void start(outgoing_message m, std::chrono::milliseconds timeout, any_handler_of<pub_ack> handler);

  connection& conn_;
  reply_router& replies_;
};

}  // namespace corobus::nats
