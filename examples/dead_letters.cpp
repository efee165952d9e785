// Dead letters: a handler that keeps failing does not lose its message. After the retry
// policy's attempts it goes to `<topic>.dlq` with headers saying why and where it came from,
// and the subscription goes on with the next one. Here the dead letter is read back.
#include "example.hpp"

int main(int argc, char** argv) {
  return example::guarded("dead_letters", [&] {
    auto cfg = example::config_from(argc, argv);
    cfg.retry.attempts = 3;
    cfg.retry.initial_backoff = 1ms;
    corobus::bus bus(cfg);
    int calls = 0;
    std::string error, origin, attempts;

    const bool ran = example::run(bus, [&]() -> asio::awaitable<void> {
      auto dead = co_await bus.async_stream("payments.dlq");
      co_await bus.async_subscribe_envelopes("payments", [&](const corobus::envelope& e) -> asio::awaitable<void> {
        ++calls;
        throw std::runtime_error("card declined");
        co_return;
      });
      co_await bus.async_publish_envelope("payments", corobus::envelope::make("payment-7", "Charged", 1, "{}"));
      auto d = co_await dead.async_next();  // the dead letter, once the attempts are spent
      const auto header = [&](std::string_view name) {
        const auto* v = corobus::find_header(d->message().headers, name);
        return v ? *v : std::string("(none)");
      };
      error = header(corobus::dead_letter_headers::error);
      origin = header(corobus::dead_letter_headers::origin_topic);
      attempts = header(corobus::dead_letter_headers::attempts);
      co_await d->async_ack();
    });
    bus.close();
    fmt::print("handler called {} times; dead letter from '{}' after {} attempts: \"{}\"\n", calls, origin, attempts,
               error);
    return ran && calls == 3 && origin == "payments" && error.find("card declined") != std::string::npos;
  });
}
