#pragma once
// The NATS JetStream backend: one connection per bus, its socket I/O on a strand of the bus's
// pool (nats::connection), with one reply router for PubAcks and pulls; a stream per topic and
// per dead-letter topic (stream_names.hpp); a durable pull consumer per group and topic
// (nats_group_consumer), or, on a partitioned topic (nats.partitions), a durable per partition
// owned through leases by one member of the group at a time (nats_partitioned_group).
// cnats's blocking calls (connect, stream and consumer management, close)
// run on a blocking pool of the bus or on the opening and closing thread, never on an io thread.
// A url of "embedded" starts a nats-server child process owned by the bus.
#include <corobus/awaitables/nats/connection.hpp>
#include <corobus/awaitables/nats/embedded_server.hpp>
#include <corobus/awaitables/nats/jetstream_admin.hpp>
#include <corobus/awaitables/nats/jetstream_publisher.hpp>
#include <corobus/awaitables/nats/reply_router.hpp>
#include <corobus/eventbus/config.hpp>
#include <corobus/runtime/blocking_pool.hpp>
#include <corobus/runtime/gate.hpp>
#include <corobus/runtime/task_scope.hpp>
#include "backends/nats/nats_group_consumer.hpp"
#include "backends/nats/nats_partitioned_group.hpp"
#include "core/backend.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>

namespace corobus::detail {

class nats_backend final : public backend {
 public:
  // Starts the embedded server (if asked for) and connects within nats.connect_timeout
  // (errc::broker_error naming the cause otherwise). Blocking.
  nats_backend(backend_context context, const nats_config& cfg);
  ~nats_backend() override;

  asio::awaitable<publish_result> publish(message msg) override;
  asio::awaitable<publish_result> publish_envelope(std::string topic, envelope env) override;
  // Every envelope in flight at once; each completes on its own PubAck.
  asio::awaitable<std::vector<publish_result>> publish_envelopes(std::string topic,
                                                                 std::vector<envelope> batch) override;
  record_limits limits() const override;
  write_failure classify(const boost::system::error_code& ec) const override;
  asio::awaitable<void> attach(std::shared_ptr<subscriber> sub) override;
  void detach(const std::shared_ptr<subscriber>& sub) override;
  void stop_intake() override;
  void shutdown() override;
  corobus::connection_status connection_status() const override;

 private:
  using strand_type = nats::connection::strand_type;
  // Runs `f()` on the strand and waits for it (opening and closing thread only).
  template <class F>
  void on_strand(F f);
  // Runs a blocking JetStream management call on blocking_, rethrowing what it threw.
  asio::awaitable<void> manage(std::function<void()> call);
  nats::stream_spec stream_for(const std::string& topic) const;
  // Applies the topic strategy to the topic's stream, once per topic and bus.
  asio::awaitable<void> ensure_stream(std::string topic);
  bool stream_ready(std::string_view topic);
  asio::awaitable<publish_result> send(nats::outgoing_message m, std::string topic, std::int32_t partition);
  // The bus's consumer of a group on a topic: one durable, or the partitions it owns.
  struct group_entry {
    std::shared_ptr<group_routes> routes;
    std::unique_ptr<nats_group_consumer> single;
    std::unique_ptr<nats_partitioned_group> partitioned;
  };
  bool partitioned(std::string_view topic) const;
  // `<topic>.<p>` for a partitioned topic (p from the key, or spread), else the topic.
  std::pair<std::string, std::int32_t> subject_for(const std::string& topic, std::string_view key);
  asio::awaitable<void> attach_partitioned(const std::shared_ptr<subscriber>& sub);
  asio::awaitable<void> drain_partitions();  // close(), on the strand
  consumer_context context_for_consumers();
  group_entry& group(const std::string& topic, const std::string& name,
                     std::unique_ptr<nats::kv_bucket> bucket = nullptr);
  void reconnected();  // on the strand

  backend_context context_;
  const nats_config& cfg_;
  std::unique_ptr<nats::embedded_server> server_;
  blocking_pool blocking_{1};
  // Dropped at the end of shutdown(): the pool destroys its io_context right after, and a
  // strand outliving it would unlock a mutex of a destroyed service.
  std::optional<strand_type> strand_;
  std::unique_ptr<nats::connection> conn_;
  std::unique_ptr<nats::reply_router> replies_;  // made, used and destroyed on the strand
  std::unique_ptr<nats::jetstream_publisher> publisher_;
  std::unique_ptr<nats::jetstream_admin> admin_;  // on blocking_ only
  std::size_t max_payload_ = 0;
  // Every publish and stream check holds it; shutdown() closes it before the connection.
  gate uses_;
  task_scope consumers_;  // every group's pull and keep-alive tasks

  mutable std::mutex groups_mutex_;
  std::map<std::pair<std::string, std::string>, group_entry> groups_;  // (topic, group)
  const std::string member_;                                           // this bus's name in partitioned groups
  std::atomic<std::uint32_t> spread_{0};                               // unkeyed messages of partitioned topics

  std::shared_mutex streams_mutex_;
  std::set<std::string, std::less<>> ready_streams_;  // by topic
};

}  // namespace corobus::detail
