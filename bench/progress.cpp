#include "progress.hpp"

#include <fmt/format.h>

#include <unistd.h>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

namespace corobus::bench {

struct progress::line {
  std::mutex mutex;
  std::string scenario;  // empty: nothing running
  std::size_t sent = 0;
  std::function<std::size_t()> arrived;
  std::chrono::steady_clock::time_point since;
  bool drawn = false;
};

progress& progress::global() {
  static progress p;
  if (!p.line_) p.line_ = std::make_shared<line>();
  return p;
}

void progress::begin(std::string scenario, std::size_t sent) {
  std::lock_guard lock(line_->mutex);
  line_->scenario = std::move(scenario);
  line_->sent = sent;
  line_->arrived = nullptr;
  line_->since = std::chrono::steady_clock::now();
}

void progress::count_with(std::function<std::size_t()> arrived) {
  std::lock_guard lock(line_->mutex);
  line_->arrived = std::move(arrived);
}

void progress::finish() {
  std::lock_guard lock(line_->mutex);
  line_->scenario.clear();
  line_->arrived = nullptr;
  if (line_->drawn) std::fputs("\r\033[K", stderr);
  line_->drawn = false;
}

void progress::draw() {
  std::lock_guard lock(line_->mutex);
  if (line_->scenario.empty()) return;
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - line_->since).count();
  const auto arrived = line_->arrived ? line_->arrived() : 0;
  fmt::print(stderr, "\r\033[K{}: {} of {} arrived, {:.0f} s", line_->scenario, arrived, line_->sent, seconds);
  std::fflush(stderr);
  line_->drawn = true;
}

struct progress::printer::state {
  std::mutex mutex;
  std::condition_variable stop;
  bool stopping = false;
  std::thread thread;
};

progress::printer::printer() : s_(std::make_unique<state>()) {
  if (!::isatty(STDERR_FILENO)) return;
  s_->thread = std::thread([s = s_.get()] {
    std::unique_lock lock(s->mutex);
    while (!s->stop.wait_for(lock, std::chrono::seconds(1), [s] { return s->stopping; })) global().draw();
  });
}

progress::printer::~printer() {
  if (!s_->thread.joinable()) return;
  {
    std::lock_guard lock(s_->mutex);
    s_->stopping = true;
  }
  s_->stop.notify_one();
  s_->thread.join();
  global().finish();
}

}  // namespace corobus::bench
