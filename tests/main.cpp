// The test binary's entry point. Its global fixture registers the "corobus" logger before
// the library first logs, with a sink that counts warnings (so tests can check that nothing
// is dropped without a log line) next to the usual stderr output.
#define BOOST_TEST_MODULE corobus
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace corobus::test {
namespace {

std::atomic<std::size_t> warnings{0};
std::mutex recent_mutex;
std::deque<std::string> recent;  // the last warnings and errors, for tests that read what was said
constexpr std::size_t recent_kept = 4000;

class counting_sink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.level < spdlog::level::warn) return;
    warnings.fetch_add(1);
    std::lock_guard lock(recent_mutex);
    recent.emplace_back(msg.payload.data(), msg.payload.size());
    if (recent.size() > recent_kept) recent.pop_front();
  }
  void flush_() override {}
};

}  // namespace

struct logging_fixture {
  logging_fixture() {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    // Quiet by default: the suites provoke many warnings on purpose.
    console->set_level(std::getenv("COROBUS_TEST_LOG") ? spdlog::level::trace : spdlog::level::critical);
    auto logger = std::make_shared<spdlog::logger>("corobus",
                                                   spdlog::sinks_init_list{console, std::make_shared<counting_sink>()});
    logger->set_level(spdlog::level::trace);
    spdlog::register_logger(logger);
    // Tests compare thread counts with a baseline. A thread started and joined here lets
    // helpers that appear with a process's first thread (ThreadSanitizer's) exist before.
    std::thread([] {}).join();
  }
};

std::size_t logged_warnings() { return warnings.load(); }

std::size_t logged_warnings_containing(std::string_view text) {
  std::lock_guard lock(recent_mutex);
  return static_cast<std::size_t>(std::count_if(
      recent.begin(), recent.end(), [text](const std::string& line) { return line.find(text) != std::string::npos; }));
}

}  // namespace corobus::test

using corobus::test::logging_fixture;
BOOST_TEST_GLOBAL_FIXTURE(logging_fixture);
