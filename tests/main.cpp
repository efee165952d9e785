// The test binary's entry point. Its global fixture registers the "corobus" logger before
// the library first logs, with a sink that counts warnings (so tests can check that nothing
// is dropped without a log line) next to the usual stderr output. The servers' own output
// (nats-server, Kafka's JVMs: child_process logs it at debug level) stays quiet unless a test
// case fails: then its last lines are printed, and those of the run's shared Kafka broker.
#define BOOST_TEST_MODULE corobus
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/test/results_collector.hpp>
#include <boost/test/tree/observer.hpp>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define COROBUS_TEST_TSAN 1
#endif
#endif

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
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
std::deque<std::string> server_lines;  // the servers' last lines, under recent_mutex
constexpr std::size_t server_lines_kept = 200;

bool from_a_server(std::string_view line) { return line.starts_with("nats-server: ") || line.starts_with("kafka-"); }

class counting_sink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view line(msg.payload.data(), msg.payload.size());
    if (msg.level == spdlog::level::debug && from_a_server(line)) {
      std::lock_guard lock(recent_mutex);
      server_lines.emplace_back(line);
      if (server_lines.size() > server_lines_kept) server_lines.pop_front();
    }
    if (msg.level < spdlog::level::warn) return;
    warnings.fetch_add(1);
    std::lock_guard lock(recent_mutex);
    recent.emplace_back(msg.payload.data(), msg.payload.size());
    if (recent.size() > recent_kept) recent.pop_front();
  }
  void flush_() override {}
};

}  // namespace

// Prints the servers' last lines after a test case that failed.
class server_output_on_failure final : public boost::unit_test::test_observer {
 public:
  void test_unit_start(const boost::unit_test::test_unit& unit) override {
    if (unit.p_type != boost::unit_test::TUT_CASE) return;
    std::lock_guard lock(recent_mutex);
    server_lines.clear();
  }
  void test_unit_finish(const boost::unit_test::test_unit& unit, unsigned long) override {
    if (unit.p_type != boost::unit_test::TUT_CASE || boost::unit_test::results_collector.results(unit.p_id).passed())
      return;
    std::lock_guard lock(recent_mutex);
    if (!server_lines.empty()) {
      std::cerr << "---- the servers' last " << server_lines.size() << " lines in " << unit.full_name() << "\n";
      for (const auto& line : server_lines) std::cerr << line << "\n";
    }
    if (const char* dir = std::getenv("COROBUS_KAFKA_SHARED_BROKER"); dir && *dir) {
      std::ifstream log(std::filesystem::path(dir) / "keeper.log");
      std::deque<std::string> tail;
      for (std::string line; std::getline(log, line);) {
        tail.push_back(std::move(line));
        if (tail.size() > 50) tail.pop_front();
      }
      std::cerr << "---- the shared Kafka broker's last lines (" << dir << "/keeper.log)\n";
      for (const auto& line : tail) std::cerr << line << "\n";
    }
  }
};

struct logging_fixture {
  logging_fixture() {
    boost::unit_test::framework::register_observer(observer);
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
#ifdef COROBUS_TEST_TSAN
    // Likewise descriptors: ThreadSanitizer starts its symbolizer (two pipes) the first time
    // it symbolizes, a suppressed report too; here, before any baseline is taken.
    char where[256];
    __sanitizer_symbolize_pc(__builtin_return_address(0), "%p %F %L", where, sizeof where);
#endif
  }
  ~logging_fixture() { boost::unit_test::framework::deregister_observer(observer); }
  server_output_on_failure observer;
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
