#pragma once
// A server run as a child process for as long as this object lives: nats-server for the
// embedded NATS backend, a Kafka broker's JVM for the tests.
//
// - It dies with the process that started it: the child is forked by a thread of this object
//   that then drains its output, and PR_SET_PDEATHSIG (tied to the forking thread, not the
//   process) kills it when that thread ends, so a crash or kill -9 of the parent leaves no
//   server running on its port.
// - Start waits, on the child's output and with a deadline, until `ready` accepts a line;
//   until then its first and last lines are kept for the error. After that its output goes to
//   the `corobus` logger at debug level.
// - stop() asks it to end (SIGTERM), waits on a pidfd with a deadline, kills it otherwise, and
//   reaps it; kill() is kill -9.
// Not on an io thread: start and stop block.
#include <sys/types.h>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace corobus {

class child_process {
 public:
  struct options {
    // A constructor, not an aggregate: see publish_options for the g++ 12 rule.
    options() = default;

    std::string name;  // in log lines and errors: "nats-server"
    std::chrono::milliseconds start_timeout{10'000};
    std::chrono::milliseconds stop_timeout{5'000};
    // Set in the child's environment besides the parent's ("NAME=value").
    std::vector<std::string> environment;
    // A tool, not a server: the constructor returns once it exited with status 0 (`ready`
    // is not asked), and throws with what it said otherwise.
    bool run_to_exit = false;
  };

  // Runs `argv` (argv[0] as given, see find_executable) and waits until `ready` returns true
  // for a line of its output. Throws errc::broker_error with what it said when it exits first
  // or stays silent past start_timeout.
  child_process(std::vector<std::string> argv, const std::function<bool(std::string_view line)>& ready, options opts);
  ~child_process();  // stop()

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }  // 0 once it ended
  // SIGTERM, then SIGKILL after stop_timeout; reaps it. Idempotent.
  void stop();
  // kill -9, then reaps it.
  void kill();

 private:
  void end(int signal);
  // Waits for the process to end (deadline: `timeout`); true when it did and was reaped.
  bool reap_within(std::chrono::milliseconds timeout);

  options opts_;
  pid_t pid_ = 0;
  int status_ = 0;  // waitpid's, once reaped
  int pidfd_ = -1;
  std::thread output_;  // drains the child's output into the log until it ends
};

// The path of `name` in PATH (as given when it holds a '/'); throws errc::invalid_config
// saying `hint` when it is not there.
std::string find_executable(const std::string& name, std::string_view hint);

}  // namespace corobus
