#pragma once
// A group member process (tests/group_member.cpp) started, closed or killed by a test, and
// what it handled: the "<aggregate> <version>" lines of its output file.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace corobus::test {

// One envelope a member handled, and when (the steady clock, the same in every process).
struct handled_envelope {
  std::string aggregate;
  std::int64_t version = 0;
  std::chrono::steady_clock::time_point started, finished;
};

class member_process {
 public:
  // `options`: the member program's flags after the five arguments (--partitions N, ...).
  member_process(const std::string& bootstrap, const std::string& topic, const std::string& group,
                 std::size_t max_in_flight, std::vector<std::string> options = {});
  ~member_process();  // kills the process if it still runs, removes the output file

  member_process(const member_process&) = delete;
  member_process& operator=(const member_process&) = delete;

  // SIGTERM (the member closes its bus) and the exit status, once it exited.
  int terminate();
  // SIGKILL: the member gets no chance to commit or leave the group.
  void kill();
  // SIGSTOP and SIGCONT: the member stands still, its clock and the server's going on.
  void pause();
  void resume();

  // What it handled so far, in the order it finished them.
  std::vector<handled_envelope> handled() const;
  std::size_t handled_count() const;
  pid_t pid() const noexcept { return pid_; }

 private:
  int wait();
  pid_t pid_ = -1;
  std::filesystem::path output_;
};

}  // namespace corobus::test
