#pragma once
// Helpers shared by the suites: run a coroutine to completion from the test thread, wait on
// a condition with a deadline (never a fixed sleep), and (from support/) the process's threads and
// descriptors.
#include <corobus/runtime/asio.hpp>
#include <corobus/support/process_counts.hpp>

#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace corobus::test {

using namespace std::chrono_literals;

// Runs the awaitable `make()` returns on `ex` and waits for its result.
template <class Executor, class MakeAwaitable>
auto run(const Executor& ex, MakeAwaitable make, std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto result = asio::co_spawn(ex, make(), asio::use_future);
  if (result.wait_for(timeout) != std::future_status::ready)
    throw std::runtime_error("test coroutine did not finish in time");
  return result.get();
}

// Awaits `make()` and returns the error code it threw (empty when it completed).
template <class MakeAwaitable>
asio::awaitable<boost::system::error_code> error_code_of(MakeAwaitable make) {
  try {
    co_await make();
  } catch (const boost::system::system_error& e) {
    co_return e.code();
  }
  co_return boost::system::error_code{};
}

// Polls `condition` until it holds or `timeout` passes; true when it held.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 20s);

// The same, from inside a coroutine (polls with a timer, so the io threads stay free).
asio::awaitable<bool> eventually_async(std::function<bool()> condition, std::chrono::milliseconds timeout = 20s);

// Suspends the calling coroutine for `d`.
asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d);

// Collects what a subscription received, thread-safe.
template <class T>
struct inbox {
  std::mutex m;
  std::vector<T> items;
  void add(T v) {
    std::lock_guard lock(m);
    items.push_back(std::move(v));
  }
  std::size_t size() {
    std::lock_guard lock(m);
    return items.size();
  }
  std::vector<T> copy() {
    std::lock_guard lock(m);
    return items;
  }
  // A handler that keeps what it is given.
  auto collector() {
    return [this](const T& v) -> asio::awaitable<void> {
      add(v);
      co_return;
    };
  }
};

// Runs `make()` on `ex` and returns the error code it threw (empty when it completed).
template <class Executor, class F>
boost::system::error_code error_of(const Executor& ex, F make) {
  return run(ex, [&] { return error_code_of(make); });
}

using support::descriptor_count;
using support::quiet_thread_count;
using support::settled_thread_count;
using support::thread_count;

// Lines the "corobus" logger wrote at warning level or above, since the test binary started.
std::size_t logged_warnings();
// Of the last few thousand such lines, those that contain `text`.
std::size_t logged_warnings_containing(std::string_view text);

}  // namespace corobus::test
