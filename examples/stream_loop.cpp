// A pull loop: the consumer asks for the next message when it is ready, and says what became
// of each one. A nack delivers the message again (attempt 2, ...) until the retry policy's
// attempts are spent; an ack is final.
#include "example.hpp"

int main(int argc, char** argv) {
  return example::guarded("stream_loop", [&] {
    auto cfg = example::config_from(argc, argv);
    cfg.retry.initial_backoff = 1ms;  // the pause before a nacked message comes again
    corobus::bus bus(cfg);
    constexpr int jobs = 10;
    int acked = 0, nacked = 0;

    const bool ran = example::run(bus, [&]() -> asio::awaitable<void> {
      auto jobs_stream = co_await bus.async_stream("jobs");
      for (int i = 0; i < jobs; ++i)
        co_await bus.async_publish("jobs", fmt::format("job-{}", i),
                                   corobus::publish_options(fmt::format("job-{}", i)));
      while (acked < jobs) {
        auto d = co_await jobs_stream.async_next();
        if (!d) break;  // the bus closed
        // Every odd job fails its first attempt: nacked, it comes back as attempt 2.
        const bool odd = d->message().payload.back() % 2 == 1;
        if (odd && d->attempt() == 1) {
          ++nacked;
          co_await d->async_nack("not ready yet");
          continue;
        }
        fmt::print("{} done on attempt {}\n", d->message().payload, d->attempt());
        ++acked;
        co_await d->async_ack();
      }
    });
    bus.close();
    fmt::print("acked {}, nacked {} (each came back)\n", acked, nacked);
    return ran && acked == jobs && nacked == jobs / 2;
  });
}
