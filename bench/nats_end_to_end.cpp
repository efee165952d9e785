// NATS JetStream end to end on an embedded nats-server (file storage): corobus
// (publish_envelope(s) + subscribe_envelopes) against a hand-written cnats publish + pull
// loop over the same data, on the same server.
#include "bus_end_to_end.hpp"

#include <corobus/awaitables/nats/embedded_server.hpp>
#include <corobus/awaitables/nats/library.hpp>
#include <corobus/corobus.hpp>

#include <fmt/format.h>

#include <nats/nats.h>

#include <unistd.h>
#include <atomic>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace corobus::bench {

namespace {

constexpr auto give_up_after = std::chrono::seconds(120);

std::function<double()> cpu_of(const nats::embedded_server& server) {
  return [pid = server.pid()] { return cpu_seconds_of(pid); };
}

}  // namespace

result run_nats_end_to_end(const parameters& p, const nats::embedded_server& server) {
  const workload w(p);
  auto r = begin_result(p.batch > 1
                            ? fmt::format("nats end to end (corobus, batches of {} versions, embedded server)", p.batch)
                            : std::string("nats end to end (corobus, embedded server)"),
                        w.total);
  arrivals arrived(p.aggregates, w.total);
  config cfg;
  cfg.backend = backend_kind::nats;
  cfg.io_threads = p.io_threads;
  cfg.nats.url = server.url();  // the server the raw loop uses too
  cfg.nats.storage = p.nats_memory_storage ? nats_storage::memory : nats_storage::file;
  // The default lanes: 8, as on Kafka, showed no steady gain here (the 2-core machine,
  // 200,000 messages in batches of 5: from 29k/s to 38k/s with 8, 31k/s to 45k/s with 256).
  // A topic of its own per variant, so that each starts on an empty stream.
  run_on_bus(r, arrived, cfg, p, w,
             {fmt::format("bench-nats-corobus-{}", p.batch), nats_max_lead, give_up_after, cpu_of(server)});
  finish_result(r, arrived);
  return r;
}

namespace {

void check(natsStatus s, const char* what) {
  if (s == NATS_OK) return;
  const char* detail = nats_GetLastError(nullptr);
  throw std::runtime_error(
      fmt::format("raw cnats loop: {}: {}{}{}", what, natsStatus_GetText(s), detail ? ": " : "", detail ? detail : ""));
}

std::int64_t nanoseconds(std::chrono::milliseconds ms) { return std::chrono::nanoseconds(ms).count(); }

// Counts the publishes whose PubAck was an error or did not come within MaxWait: the
// hand-written publisher checks every answer, as a publish awaited in corobus does.
void count_failed_ack(jsCtx*, natsMsg* m, jsPubAck*, jsPubAckErr* failure, void* failed) {
  if (failure) static_cast<std::atomic<std::size_t>*>(failed)->fetch_add(1);
  natsMsg_Destroy(m);  // the handler owns it
}

}  // namespace

// The baseline a user would write by hand, with corobus's guarantees and defaults (nats_config):
// one connection; one thread publishing with js_PublishMsgAsync (the same envelopes, made and
// encoded in the loop, with the same metadata headers and Nats-Msg-Id; every PubAck checked,
// each within publish_timeout; at most as many unanswered as corobus's publishers keep, and at
// most nats_max_lead ahead of consumption); one thread fetching from a durable pull consumer
// (explicit acks, max_in_flight unacknowledged, pull_batch at a time) and acknowledging each
// message once it was handled (at least once, as corobus acknowledges).
result run_raw_cnats(const parameters& p, const nats::embedded_server& server) {
  const workload w(p);
  const auto& [per_aggregate, total, payload, ids] = w;
  auto r = begin_result("nats end to end (raw cnats loop, embedded server)", total);
  arrivals arrived(p.aggregates, total);
  const nats_config defaults;
  const std::string topic = "bench-nats-raw";
  const std::string stream = "bench-nats-raw";
  std::size_t late_fetches = 0, failed_fetches = 0;
  {
    // nats_Open, and nats_CloseAndWait at the end: cnats's threads go with the run.
    const nats::library_use library;
    natsConnection* nc = nullptr;
    check(natsConnection_ConnectTo(&nc, server.url().c_str()), "connecting");
    std::atomic<std::size_t> failed_acks{0};
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = defaults.publish_timeout.count();
    // corobus's publishers have up to aggregates x batch publishes unanswered.
    jo.PublishAsync.MaxPending = static_cast<std::int64_t>(p.aggregates * p.batch);
    jo.PublishAsync.AckHandler = count_failed_ack;
    jo.PublishAsync.AckHandlerClosure = &failed_acks;
    jsCtx* js = nullptr;
    check(natsConnection_JetStream(&js, nc, &jo), "JetStream context");

    // The stream the bus would create: the topic its one subject, file storage.
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = stream.c_str();
    const char* subjects[] = {topic.c_str()};
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = p.nats_memory_storage ? js_MemoryStorage : js_FileStorage;
    sc.Duplicates = nanoseconds(defaults.duplicate_window);
    jsErrCode code{};
    check(js_AddStream(nullptr, js, &sc, nullptr, &code), "creating the stream");
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.AckWait = nanoseconds(defaults.ack_wait);
    so.Config.MaxAckPending = static_cast<std::int64_t>(defaults.max_in_flight);
    natsSubscription* sub = nullptr;
    check(js_PullSubscribe(&sub, js, topic.c_str(), "raw-bench", nullptr, &so, &code), "pull subscription");

    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = defaults.publish_timeout.count();  // without it a lost PubAck is waited for forever

    // As in the corobus run: a marker is published and consumed before the clock starts.
    const std::string join = envelope::make("join", "Join", 1, "{}").encode();
    check(js_Publish(nullptr, js, topic.c_str(), join.data(), static_cast<int>(join.size()), &po, &code),
          "publishing the join marker");
    for (bool joined = false; !joined;) {
      natsMsgList list{};
      if (natsSubscription_Fetch(&list, sub, 1, 1000, nullptr) != NATS_OK) continue;
      for (int i = 0; i < list.Count; ++i) {
        joined = true;
        natsMsg_Ack(list.Msgs[i], nullptr);
      }
      natsMsgList_Destroy(&list);
    }

    const run_clock clock;
    const auto broker_cpu = cpu_of(server);
    const double broker_cpu_at_start = broker_cpu();
    std::thread consuming([&] {
      const int batch = defaults.pull_batch;
      while (arrived.received() < total && clock.elapsed() < give_up_after) {
        // cnats 3.4.1's Fetch writes past its array when messages of an earlier request (one
        // it stopped waiting for) are still queued and more than half the batch: they are
        // drained with a batch of at least twice them. (With a fetch's 5 s and messages
        // flowing, none should be.)
        int queued = 0;
        natsSubscription_GetPending(sub, &queued, nullptr);
        if (queued > 0) ++late_fetches;
        natsMsgList list{};
        // A batch at a time: the server sends what it has at once (up to the batch), then ends
        // the request; only with nothing there does the request wait (up to 5 s).
        if (const auto s = natsSubscription_Fetch(&list, sub, queued > 0 ? batch + 2 * queued : batch, 5000, nullptr);
            s != NATS_OK) {
          if (s != NATS_TIMEOUT) ++failed_fetches;
          continue;
        }
        for (int i = 0; i < list.Count; ++i) {
          natsMsg* m = list.Msgs[i];
          const auto e = envelope::decode(
              std::string_view(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))));
          if (arrived.observe(e) == total) {  // the last: the run's end
            stop_clock(r, clock);
            r.broker_cpu_seconds = broker_cpu() - broker_cpu_at_start;
          }
          natsMsg_Ack(m, nullptr);  // handled: it may be let go
        }
        natsMsgList_Destroy(&list);
      }
    });
    std::size_t produced = 0;
    for (std::size_t v = 1; v <= per_aggregate && clock.elapsed() < give_up_after; ++v)
      for (std::size_t a = 0; a < p.aggregates; ++a, ++produced) {
        while (produced - arrived.received() >= nats_max_lead && clock.elapsed() < give_up_after)
          std::this_thread::sleep_for(std::chrono::microseconds(100));
        const auto e = envelope::make(ids[a], "Benchmarked", static_cast<std::int64_t>(v), payload);
        const auto value = e.encode();
        natsMsg* m = nullptr;
        check(natsMsg_Create(&m, topic.c_str(), nullptr, value.data(), static_cast<int>(value.size())), "message");
        for (const auto& h : metadata_headers(e)) natsMsgHeader_Add(m, h.name.c_str(), h.value.c_str());
        natsMsgHeader_Set(m, "Nats-Msg-Id", e.event_id.c_str());  // as corobus: stored once
        // NATS_TIMEOUT: MaxPending were unanswered for StallWait (200 ms); the message is still ours.
        auto s = js_PublishMsgAsync(js, &m, &po);
        while (s == NATS_TIMEOUT && clock.elapsed() < give_up_after) s = js_PublishMsgAsync(js, &m, &po);
        natsMsg_Destroy(m);  // NULL once cnats took it
        check(s, "publishing");
      }
    jsPubOptions complete;
    jsPubOptions_Init(&complete);
    complete.MaxWait = 60'000;
    if (const auto s = js_PublishAsyncComplete(js, &complete); s != NATS_OK)
      fmt::print(stderr, "raw cnats loop: waiting for the PubAcks: {}\n", natsStatus_GetText(s));
    if (const auto failed = failed_acks.load(); failed != 0)
      fmt::print(stderr, "raw cnats loop: {} publishes failed\n", failed);
    consuming.join();
    natsConnection_FlushTimeout(nc, 5000);  // the last acks
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
  if (late_fetches || failed_fetches)
    fmt::print(stderr, "raw cnats loop: {} fetches found messages of an earlier request queued, {} failed\n",
               late_fetches, failed_fetches);
  finish_result(r, arrived);
  return r;
}

}  // namespace corobus::bench
