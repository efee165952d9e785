// Keyed ordering: handlers that suspend (a timer stands in for a database call) run many at
// once, yet each aggregate's events are handled one at a time, in the order published. The
// bus puts each key on one lane; lanes run concurrently (config::lanes).
#include "example.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <map>
#include <mutex>

int main(int argc, char** argv) {
  return example::guarded("keyed_ordering", [&] {
    corobus::bus bus(example::config_from(argc, argv));
    constexpr int aggregates = 20, versions = 50;
    std::mutex mutex;
    std::map<std::string, std::int64_t> last;  // per aggregate: the version handled last
    std::atomic<int> handled{0}, out_of_order{0}, running{0}, most_at_once{0};
    std::promise<void> all_handled;

    auto apply = [&](const corobus::envelope& e) -> asio::awaitable<void> {
      most_at_once = std::max(most_at_once.load(), ++running);
      asio::steady_timer io(co_await asio::this_coro::executor,
                            std::chrono::microseconds(500 + e.event_version % 7 * 100));
      co_await io.async_wait(asio::use_awaitable);  // suspended: other lanes run meanwhile
      {
        std::lock_guard lock(mutex);
        if (e.event_version != last[e.aggregate_id] + 1) ++out_of_order;
        last[e.aggregate_id] = e.event_version;
      }
      --running;
      if (++handled == aggregates * versions) all_handled.set_value();
    };

    const bool ran = example::run(bus, [&]() -> asio::awaitable<void> {
      co_await bus.async_subscribe_envelopes("accounts", apply);
      for (int v = 1; v <= versions; ++v)
        for (int a = 0; a < aggregates; ++a)
          co_await bus.async_publish_envelope(
              "accounts", corobus::envelope::make(fmt::format("account-{}", a), "Deposited", v, R"({"amount":10})"));
    });
    const bool all = ran && all_handled.get_future().wait_for(60s) == std::future_status::ready;
    bus.close();
    fmt::print("handled {} events of {} aggregates; out of order: {}; at most {} handlers at once\n", handled.load(),
               aggregates, out_of_order.load(), most_at_once.load());
    return all && out_of_order == 0 && most_at_once > 1;
  });
}
