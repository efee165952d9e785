#pragma once
// Kafka records: a fetched message read in place, and what a producer sends and gets back.
//
// librdkafka hands each fetched message out as its own event (a FETCH event carries exactly
// one), and the message lives as long as the event. A record owns that event, so nothing is
// copied until asked for, and the headers are not even parsed: librdkafka parses them on the
// first rd_kafka_message_headers, with an allocation per header.
//
// Every record must be destroyed before its consumer: the event holds references into the
// client, and rd_kafka_destroy waits for them (it hangs otherwise).
#include <corobus/awaitables/kafka/handles.hpp>
#include <corobus/runtime/header.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corobus::kafka {

class record {
 public:
  // `message` is the one message of the FETCH event `fetched`.
  record(event_ptr fetched, const rd_kafka_message_t* message) noexcept
      : event_(std::move(fetched)), message_(message) {}

  std::string_view topic() const noexcept { return rd_kafka_topic_name(message_->rkt); }
  std::int32_t partition() const noexcept { return message_->partition; }
  std::int64_t offset() const noexcept { return message_->offset; }
  std::string_view key() const noexcept { return view(message_->key, message_->key_len); }
  std::string_view value() const noexcept { return view(message_->payload, message_->len); }
  // Calls f(name, value) for each header, in order. Not thread-safe for one record
  // (librdkafka caches the parse in the message): a record has one user at a time.
  template <class F>
  void visit_headers(F&& f) const {
    rd_kafka_headers_t* hs = nullptr;  // owned by the message
    if (rd_kafka_message_headers(message_, &hs) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    const char* name;
    const void* value;
    std::size_t size;
    for (std::size_t i = 0; rd_kafka_header_get_all(hs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
      f(std::string_view(name), view(value, size));
  }
  // Copies of the headers, in order, as any type built from {name, value} strings.
  template <class Header = corobus::header>
  std::vector<Header> headers() const {
    std::vector<Header> out;
    visit_headers([&out](std::string_view name, std::string_view value) {
      out.push_back({std::string(name), std::string(value)});
    });
    return out;
  }

 private:
  static std::string_view view(const void* p, std::size_t n) noexcept {
    return p ? std::string_view(static_cast<const char*>(p), n) : std::string_view();
  }

  event_ptr event_;
  const rd_kafka_message_t* message_;
};

// Where a produced record was stored: its delivery report.
struct delivery_report {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

// One record to send: the operation owns it until librdkafka has copied it.
struct outgoing_record {
  std::string topic;
  std::string key;
  std::string value;
  headers_ptr headers;
};

}  // namespace corobus::kafka
