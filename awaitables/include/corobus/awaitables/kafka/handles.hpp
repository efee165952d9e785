#pragma once
// Owning handles for librdkafka objects.
#include <librdkafka/rdkafka.h>

#include <memory>

namespace corobus::kafka {

namespace detail {
template <auto Destroy>
struct destroyer {
  template <class T>
  void operator()(T* p) const noexcept {
    Destroy(p);
  }
};
}  // namespace detail

using conf_ptr = std::unique_ptr<rd_kafka_conf_t, detail::destroyer<rd_kafka_conf_destroy>>;
using queue_ptr = std::unique_ptr<rd_kafka_queue_t, detail::destroyer<rd_kafka_queue_destroy>>;
using event_ptr = std::unique_ptr<rd_kafka_event_t, detail::destroyer<rd_kafka_event_destroy>>;
using partition_list_ptr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, detail::destroyer<rd_kafka_topic_partition_list_destroy>>;
using headers_ptr = std::unique_ptr<rd_kafka_headers_t, detail::destroyer<rd_kafka_headers_destroy>>;
// rd_kafka_destroy blocks until the client's threads are gone: never call it on an io thread.
using client_ptr = std::unique_ptr<rd_kafka_t, detail::destroyer<rd_kafka_destroy>>;

}  // namespace corobus::kafka
