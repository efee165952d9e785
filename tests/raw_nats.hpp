#pragma once
// A plain cnats client for the tests, apart from the bus: another producer writing what it
// likes (any headers, at the server's limits) into a topic's stream, and the stream changes
// an operator makes under a running bus.
#include <corobus/awaitables/nats/library.hpp>
#include <corobus/eventbus/message.hpp>

#include <nats/nats.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corobus::test {

class raw_nats {
 public:
  explicit raw_nats(const std::string& url);  // throws when no server answers
  ~raw_nats();
  raw_nats(const raw_nats&) = delete;
  raw_nats& operator=(const raw_nats&) = delete;

  // Stores `payload` with `headers` (in their order, repeats kept) on `subject`; the stream
  // sequence. Throws runtime_error with cnats's and the server's words when it is refused.
  std::uint64_t publish(const std::string& subject, std::string_view payload, const corobus::headers& headers = {});

  void add_stream(const std::string& name, const std::vector<std::string>& subjects);
  void delete_stream(const std::string& name);
  // What the server says of a durable consumer: messages delivered and not yet acknowledged.
  std::int64_t ack_pending(const std::string& stream, const std::string& durable);
  std::size_t max_payload() const;

 private:
  nats::library_use library_;  // first: a bus closing meanwhile must not close cnats under this
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

// The bytes cnats sends for `headers`: "NATS/1.0\r\n", "name: value\r\n" each, "\r\n".
std::size_t header_block_bytes(const corobus::headers& headers);

}  // namespace corobus::test
