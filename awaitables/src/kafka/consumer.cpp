#include <corobus/awaitables/kafka/consumer.hpp>
#include <corobus/awaitables/kafka/error.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/log.hpp>

#include <boost/asio/steady_timer.hpp>

#include <cstring>

namespace corobus::kafka {
namespace {

conf_ptr consumer_conf(const properties& props) {
  if (!props.contains("group.id")) throw_error(errc::invalid_config, "a Kafka consumer needs group.id");
  auto conf = make_conf({{"enable.auto.commit", "false"},
                         {"enable.auto.offset.store", "false"},
                         {"auto.offset.reset", "earliest"},
                         // Prefetch stays small, so memory is bounded by what handlers hold.
                         {"queued.max.messages.kbytes", "16384"}},
                        props);
  // Commit answers are not among them: commit() names a queue of its own for those.
  rd_kafka_conf_set_events(conf.get(), RD_KAFKA_EVENT_REBALANCE | RD_KAFKA_EVENT_ERROR);
  return conf;
}

client_ptr make_consumer_client(const properties& props) {
  auto client = make_client(RD_KAFKA_CONSUMER, consumer_conf(props));
  // Everything on one queue, the one the eventfd watches.
  throw_if(rd_kafka_poll_set_consumer(client.get()), "forwarding the main queue to the consumer queue");
  return client;
}

partition_list_ptr to_list(const std::vector<topic_partition>& parts) {
  partition_list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
  for (const auto& p : parts)
    rd_kafka_topic_partition_list_add(list.get(), p.topic.c_str(), p.partition)->offset = p.offset;
  return list;
}

std::vector<topic_partition> from_list(const rd_kafka_topic_partition_list_t* list) {
  std::vector<topic_partition> parts;
  if (!list) return parts;
  for (int i = 0; i < list->cnt; ++i)
    parts.push_back({list->elems[i].topic, list->elems[i].partition, list->elems[i].offset});
  return parts;
}

}  // namespace

consumer::consumer(asio::any_io_executor ex, const properties& props)
    : client_(make_consumer_client(props)),
      events_(std::move(ex), queue_ptr(rd_kafka_queue_get_consumer(client_.get()))),
      commit_results_(rd_kafka_queue_new(client_.get())) {
  events_.also_wake_for(commit_results_.get());  // reset before the eventfd closes (~consumer)
}

consumer::~consumer() {
  // A queue of ours must go before its client; its wake-ups first, since librdkafka may hold
  // the queue a little longer than we do, and the eventfd they write to closes next.
  rd_kafka_queue_io_event_enable(commit_results_.get(), -1, nullptr, 0);
  commit_results_.reset();
  // rd_kafka_destroy would run the whole consumer close itself, waiting on the group
  // coordinator for as long as it takes; close() already gave that its deadline.
  if (!rd_kafka_consumer_closed(client_.get()))
    rd_kafka_destroy_flags(client_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

void consumer::subscribe(const std::vector<std::string>& topics) {
  if (topics.empty()) return throw_if(rd_kafka_unsubscribe(client_.get()), "unsubscribing");
  partition_list_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& t : topics) rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  throw_if(rd_kafka_subscribe(client_.get(), list.get()), "subscribing");
}

poll_result consumer::try_poll(std::size_t max_records) {
  poll_result out;
  while (out.records.size() < max_records && !out.rebalance) {
    auto ev = events_.poll();
    if (!ev) break;
    switch (rd_kafka_event_type(ev.get())) {
      case RD_KAFKA_EVENT_FETCH:
        // One message per FETCH event: the record takes the event, read in place.
        if (const auto* m = rd_kafka_event_message_next(ev.get()); m && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          out.records.emplace_back(std::move(ev), m);
        } else if (m && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          out.errors.push_back(make_error_code(m->err));
          log().warn("kafka consumer: {}", rd_kafka_message_errstr(m));
        }
        break;
      case RD_KAFKA_EVENT_REBALANCE:
        out.rebalance = kafka::rebalance{rd_kafka_event_error(ev.get()) == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS,
                                         from_list(rd_kafka_event_topic_partition_list(ev.get()))};
        break;
      case RD_KAFKA_EVENT_ERROR:
        out.errors.push_back(make_error_code(rd_kafka_event_error(ev.get())));
        log().warn("kafka consumer: {}", rd_kafka_event_error_string(ev.get()));
        break;
      default: break;
    }
  }
  return out;
}

asio::awaitable<poll_result> consumer::poll_op(std::size_t max_records) {
  for (;;) {
    auto out = try_poll(max_records);
    if (!out.records.empty() || out.rebalance || !out.errors.empty()) co_return out;
    co_await events_.async_wait();
  }
}

void consumer::apply_rebalance(const kafka::rebalance& r) {
  // Cooperative protocols move partitions one by one; eager ones replace the whole set.
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(client_.get()), "COOPERATIVE") == 0;
  auto list = to_list(r.partitions);
  if (cooperative)
    throw_if(r.assign ? rd_kafka_incremental_assign(client_.get(), list.get())
                      : rd_kafka_incremental_unassign(client_.get(), list.get()),
             "completing the rebalance");
  else
    throw_if(rd_kafka_assign(client_.get(), r.assign ? list.get() : nullptr), "completing the rebalance");
}

void consumer::commit(const std::vector<topic_partition>& offsets, std::uintptr_t tag) {
  if (offsets.empty()) return;
  // rd_kafka_commit(…, async) reports only failures, as consumer errors; with a queue the
  // answer (stored or refused, per partition) arrives there as an OFFSET_COMMIT event, whose
  // rd_kafka_event_opaque() is the commit's opaque.
  throw_if(rd_kafka_commit_queue(client_.get(), to_list(offsets).get(), commit_results_.get(), nullptr,
                                 reinterpret_cast<void*>(tag)),
           "committing offsets");
}

std::vector<commit_result> consumer::take_commit_results() {
  std::vector<commit_result> results;
  while (event_ptr ev{rd_kafka_queue_poll(commit_results_.get(), 0)}) {
    if (rd_kafka_event_type(ev.get()) != RD_KAFKA_EVENT_OFFSET_COMMIT) continue;
    // The event's error covers the whole request; each partition may carry its own.
    const auto err = rd_kafka_event_error(ev.get());
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) continue;  // there was nothing to commit
    auto& result = results.emplace_back();
    result.tag = reinterpret_cast<std::uintptr_t>(rd_kafka_event_opaque(ev.get()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) result.error = make_error_code(err);
    if (const auto* list = rd_kafka_event_topic_partition_list(ev.get()))
      for (int i = 0; i < list->cnt; ++i) {
        const auto& e = list->elems[i];
        if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR && !result.error) result.error = make_error_code(e.err);
        auto& to =
            err == RD_KAFKA_RESP_ERR_NO_ERROR && e.err == RD_KAFKA_RESP_ERR_NO_ERROR ? result.stored : result.refused;
        to.push_back({e.topic, e.partition, e.offset});
      }
    if (result.error) log().debug("kafka consumer: commit refused: {}", result.error.message());
  }
  return results;
}

boost::system::error_code consumer::commit_sync(const std::vector<topic_partition>& offsets) {
  if (offsets.empty()) return {};
  return make_error_code(rd_kafka_commit(client_.get(), to_list(offsets).get(), 0));
}

void consumer::pause(const std::vector<topic_partition>& partitions) {
  throw_if(rd_kafka_pause_partitions(client_.get(), to_list(partitions).get()), "pausing partitions");
}

void consumer::resume(const std::vector<topic_partition>& partitions) {
  throw_if(rd_kafka_resume_partitions(client_.get(), to_list(partitions).get()), "resuming partitions");
}

asio::awaitable<void> consumer::close_op() {
  // rd_kafka_consumer_close() would block this io thread while the group is left; the queue
  // variant hands the revoke to us as an event instead.
  throw_if(rd_kafka_consumer_close_queue(client_.get(), events_.get()), "closing the consumer");
  while (!rd_kafka_consumer_closed(client_.get())) {
    // What still arrives is not handed out: its messages will be delivered to the group again.
    if (const auto left = try_poll(SIZE_MAX); left.rebalance) {
      apply_rebalance(*left.rebalance);
      continue;
    }
    // The close's end is an op librdkafka puts on this queue (served by try_poll above), so
    // its eventfd wakes us for it as for any event.
    co_await events_.async_wait();
  }
}

}  // namespace corobus::kafka
