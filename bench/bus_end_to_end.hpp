#pragma once
// The corobus side of an end-to-end scenario, the same on every broker: subscribe_envelopes
// and, at once, one publisher per aggregate (publish_envelope, or publish_envelopes with
// `batch` versions at a time), publishing at most `max_lead` envelopes ahead of consumption.
#include "measurement.hpp"

#include <corobus/corobus.hpp>
#include <corobus/runtime/async_queue.hpp>

#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace corobus::bench {

struct bus_run {
  std::string topic;
  std::size_t max_lead = 0;  // envelopes published and not yet handled
  std::chrono::steady_clock::duration give_up_after{};
  // The CPU seconds a broker in another process (nats-server) used so far; unset when the
  // broker runs in this one, whose CPU the run counts anyway.
  std::function<double()> broker_cpu;
};

// One publisher per aggregate: its versions in order, each publish awaited (acknowledged by
// the broker) before the next; all aggregates at once, so `aggregates` publishes, of `batch`
// versions each, are in flight. With `credits`, each version first takes one (the lead bound).
// Returns once the last publish was acknowledged.
inline void publish_all(bus& b, const std::string& topic, const parameters& p, const workload& w,
                        async_queue<char>* credits) {
  namespace asio = boost::asio;
  const auto per_aggregate = w.per_aggregate;
  std::atomic<std::size_t> publishing{p.aggregates};
  std::promise<void> published;
  for (std::size_t a = 0; a < p.aggregates; ++a)
    asio::co_spawn(
        b.get_executor(),
        [&, a]() -> asio::awaitable<void> {
          const auto make = [&](std::size_t v) {
            return envelope::make(w.ids[a], "Benchmarked", static_cast<std::int64_t>(v), w.payload);
          };
          for (std::size_t v = 1; v <= per_aggregate; v += p.batch) {
            const auto last = std::min(per_aggregate, v + p.batch - 1);
            if (credits)
              for (std::size_t i = v; i <= last; ++i)
                if (!credits->try_pop()) co_await credits->async_pop();
            if (p.batch == 1) {
              co_await b.async_publish_envelope(topic, make(v));
              continue;
            }
            std::vector<envelope> batch;
            batch.reserve(last - v + 1);
            for (std::size_t i = v; i <= last; ++i) batch.push_back(make(i));
            co_await b.async_publish_envelopes(topic, std::move(batch));
          }
        },
        [&](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
          if (--publishing == 0) published.set_value();
        });
  published.get_future().wait();
}

// Runs `p` on a bus made from `cfg` (made and closed here, inside `r`'s before and after).
// A "join" envelope is published and handled first, so that neither a group's join nor the
// first fetch is measured.
inline void run_on_bus(result& r, arrivals& arrived, const config& cfg, const parameters& p, const workload& w,
                       const bus_run& run) {
  namespace asio = boost::asio;
  const auto total = w.total;
  std::atomic<bool> joined{false};
  std::promise<void> done;
  double broker_cpu_at_start = 0;
  // The lead as credits: a publish takes one, an arrival gives it back.
  const auto credits = async_queue<char>::create(run.max_lead);
  for (std::size_t i = 0; i < run.max_lead; ++i) {
    char credit = 0;
    credits->try_push(credit);
  }
  bus b(cfg);
  asio::co_spawn(
      b.get_executor(),
      [&]() -> asio::awaitable<void> {
        co_await b.async_subscribe_envelopes(run.topic, [&](const envelope& e) -> asio::awaitable<void> {
          if (e.aggregate_id == "join") {
            joined = true;
            co_return;
          }
          if (arrived.observe(e) == total) {
            if (run.broker_cpu) r.broker_cpu_seconds = run.broker_cpu() - broker_cpu_at_start;
            done.set_value();
          }
          char credit = 0;
          credits->try_push(credit);
          co_return;
        });
        co_await b.async_publish_envelope(run.topic, envelope::make("join", "Join", 1, "{}"));
      },
      asio::use_future)
      .get();
  while (!joined) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const run_clock clock;
  if (run.broker_cpu) broker_cpu_at_start = run.broker_cpu();
  publish_all(b, run.topic, p, w, credits.get());
  close_after_last_arrival(r, b, done.get_future(), clock, run.give_up_after);
}

}  // namespace corobus::bench
