#pragma once
// A message a JetStream consumer delivered: its payload, headers and metadata, and its
// acknowledgements.
//
// The acknowledgements are JetStream protocol messages published on the delivery's reply
// subject (+ACK, -NAK with an optional delay, +WPI, +TERM). Never natsMsg_Ack and its kin on
// these messages: they come from a plain subscription, and cnats 3.4.1 dereferences the
// subscription's null JetStream context there and crashes.
#include <corobus/awaitables/nats/connection.hpp>
#include <corobus/awaitables/nats/reply_router.hpp>
#include <corobus/runtime/header.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace corobus::nats {

// What a delivery's reply subject says of it: `$JS.ACK.<stream>.<consumer>.<delivered>.
// <stream seq>.<consumer seq>.<timestamp>.<pending>`, and from servers with domains two more
// tokens after ACK (domain, account hash) and one at the end.
struct jetstream_metadata {
  std::string_view stream;  // views into the reply subject: valid while the message is
  std::string_view consumer;
  std::uint64_t delivered = 0;  // times delivered, this one included
  std::uint64_t stream_sequence = 0;
  std::uint64_t consumer_sequence = 0;
  std::int64_t timestamp_ns = 0;  // when the stream stored it, since the Unix epoch
  std::uint64_t pending = 0;      // what the consumer has left after this one
};

// None for a subject that is not a JetStream delivery's.
std::optional<jetstream_metadata> parse_ack_subject(std::string_view reply) noexcept;

enum class ack_kind {
  ack,          // handled: never delivered again
  nak,          // given back: delivered again (after the delay, if any)
  in_progress,  // still working: the ack wait starts again
  term,         // never delivered again, not handled
};

// Publishes `kind` on `reply` through `conn`: nothing waits for the server. Any thread
// (cnats's publish locks). `nak_delay` goes with ack_kind::nak only.
boost::system::error_code acknowledge(const connection& conn, const char* reply, ack_kind kind,
                                      std::chrono::milliseconds nak_delay = {});

class jetstream_message {
 public:
  jetstream_message() = default;
  explicit jetstream_message(msg_ptr m) noexcept : msg_(std::move(m)) {}

  explicit operator bool() const noexcept { return msg_ != nullptr; }
  std::string_view subject() const noexcept;
  std::string_view payload() const noexcept;
  const char* reply() const noexcept;  // null when none
  // The first value of header `name`; empty when there is none.
  std::string_view header(const char* name) const noexcept;
  corobus::headers headers() const;  // all of them, in order
  std::optional<jetstream_metadata> metadata() const noexcept { return parse_ack_subject(reply_view()); }

  boost::system::error_code acknowledge(const connection& conn, ack_kind kind,
                                        std::chrono::milliseconds nak_delay = {}) const {
    return nats::acknowledge(conn, reply(), kind, nak_delay);
  }

 private:
  std::string_view reply_view() const noexcept {
    const char* r = reply();
    return r ? std::string_view(r) : std::string_view();
  }

  msg_ptr msg_;
};

}  // namespace corobus::nats
