#pragma once
// One message on its way through a subscription.
#include <corobus/eventbus/envelope.hpp>
#include <corobus/eventbus/message.hpp>
#include <corobus/runtime/gate.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace corobus::detail {

// Where a fetched message came from, for a transport that must hear how it ended: Kafka
// commits a partition only up to its first message not yet done. The in-process backend
// has none.
class ack_handle {
 public:
  virtual ~ack_handle() = default;
  // Handled, or written to the dead-letter topic.
  virtual void done(const message& m) noexcept = 0;
  // Not handled here: it was dropped because revoked() became true (another consumer of
  // the group delivers it again).
  virtual void released(const message& m) noexcept = 0;
  // Its dead letter cannot be written for now (see dead_letter_plan): it must not be
  // committed past, and it holds nothing else back. done() or released() ends the hold.
  virtual void held(const message& m) noexcept = 0;
  // True once the message belongs to another consumer (its partition was revoked): queued
  // copies are dropped instead of handled.
  virtual bool revoked() const noexcept = 0;
};

// A record read in place from the transport's buffers: what `message` leaves out until
// something asks (Kafka parses a record's headers only then, and its payload is not copied).
// Held only while the message stays inside the bus's own tasks: librdkafka's client cannot
// close while a record of its is held.
class fetched_record {
 public:
  virtual ~fetched_record() = default;
  virtual std::string_view payload() const noexcept = 0;
  virtual corobus::headers headers() const = 0;
};

struct incoming_message {
  // A constructor, not an aggregate: see publish_options for the g++ 12 bug this avoids.
  incoming_message(std::shared_ptr<const message> m, std::shared_ptr<const envelope> e,
                   std::shared_ptr<ack_handle> s = nullptr)
      : msg(std::move(m)), env(std::move(e)), source(std::move(s)) {}

  incoming_message(incoming_message&&) noexcept = default;
  incoming_message& operator=(incoming_message&&) noexcept = default;
  // Another handle on the same message, for a second try at a hand-off that may consume
  // the first; never taken of a message a stream holds (that entry is its alone).
  incoming_message another_try() const {
    incoming_message copy(msg, env, source);
    copy.fetched = fetched;
    copy.attempt = attempt;
    return copy;
  }

  // True when it must not be handled: its partition moved to another consumer.
  bool stale() const noexcept { return source && source->revoked(); }

  std::shared_ptr<const message> msg;
  // Set for envelope subscriptions: decoded from msg->payload, or the object the in-process
  // backend was given (then msg->payload may be empty: nobody needed the bytes).
  std::shared_ptr<const envelope> env;
  std::shared_ptr<ack_handle> source;
  // Set while msg has neither payload nor headers: they are read from here.
  std::shared_ptr<const fetched_record> fetched;
  unsigned attempt = 1;  // deliveries so far, counting this one
  // Held while the message belongs to a stream (queued, handed out, or waiting to be
  // delivered again): close() gives the stream's reader the grace period to empty its gate.
  gate::holder in_stream;

  std::string_view payload() const noexcept { return fetched ? fetched->payload() : std::string_view(msg->payload); }
  corobus::headers headers() const { return fetched ? fetched->headers() : msg->headers; }
  // Copies payload and headers into msg and lets the transport's buffers go: for a message
  // that reaches the application itself (a message handler, a stream's reader).
  void detach_from_transport();
};

// What orders a message among its group's members and its subscriber's lanes. For envelopes,
// the aggregate id (decoded, or read from the payload before decoding), whatever key or
// headers the producer wrote: one that is not corobus may write none, or another key. For raw
// messages, and a payload that names no aggregate id (no envelope: its lane dead-letters it),
// the message's key. A view into the message, or into `scratch`.
std::string_view ordering_key(const incoming_message& in, bool envelopes, std::string& scratch);

// For subscribers that want envelopes, on their own tasks (so decoding runs on every io
// thread): decodes in.env from the payload when it is missing; false, with the reason in
// `error`, when the payload is no envelope (such a message goes to the dead letters). Not a
// coroutine: it runs for every message, and only the rare failure needs to wait.
bool decode_envelope(incoming_message& in, std::string& error);

}  // namespace corobus::detail
