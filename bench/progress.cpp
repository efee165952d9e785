#include "progress.hpp"

#include <fmt/format.h>

#include <unistd.h>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

namespace corobus::bench {

progress& progress::global() {
  static progress p;
  return p;
}

void progress::begin(std::string scenario, std::size_t sent) {
  std::lock_guard lock(mutex_);
  scenario_ = std::move(scenario);
  sent_ = sent;
  arrived_ = nullptr;
  since_ = std::chrono::steady_clock::now();
}

void progress::count_with(std::function<std::size_t()> arrived) {
  std::lock_guard lock(mutex_);
  arrived_ = std::move(arrived);
}

void progress::finish() {
  std::lock_guard lock(mutex_);
  scenario_.clear();
  arrived_ = nullptr;
  if (drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

void progress::draw() {
  std::lock_guard lock(mutex_);
  if (scenario_.empty()) return;
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
  fmt::print(stderr, "\r\033[K{}: {} of {} arrived, {:.0f} s", scenario_, arrived_ ? arrived_() : 0, sent_, seconds);
  std::fflush(stderr);
  drawn_ = true;
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
