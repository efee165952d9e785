#pragma once
// What the examples share, so each file shows only its one idea: the bus's config
// (`--config FILE`, corobus::config::from_file, else the example's own), flags, running a
// coroutine on the bus within a bound, and an exit status that says whether it held.
#include <corobus/corobus.hpp>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstring>
#include <exception>
#include <future>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace example {

// The value after `--name` on the command line, or `fallback`.
inline std::string flag(int argc, char** argv, const char* name, std::string fallback = {}) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

// `--config FILE` when given, else `fallback`.
inline corobus::config config_from(int argc, char** argv, corobus::config fallback = {}) {
  const auto path = flag(argc, argv, "--config");
  return path.empty() ? fallback : corobus::config::from_file(path);
}

// Runs `body` (a function returning asio::awaitable<void>) on the bus and waits for it; false
// when it did not end within `limit`. What it throws is rethrown here.
template <class Body>
bool run(corobus::bus& bus, Body body, std::chrono::seconds limit = 60s) {
  auto done = asio::co_spawn(bus.get_executor(), std::move(body), asio::use_future);
  if (done.wait_for(limit) != std::future_status::ready) {
    fmt::print(stderr, "did not finish within {} s\n", limit.count());
    return false;
  }
  done.get();
  return true;
}

// main()'s body: its result as the exit status (0 when what the example shows held), or 1
// with the error printed (a bad --config file, an unreachable broker).
template <class Main>
int guarded(const char* name, Main main) {
  try {
    const bool held = main();
    fmt::print("{}: {}\n", name, held ? "ok" : "FAILED");
    return held ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", name, e.what());
    return 1;
  }
}

}  // namespace example
