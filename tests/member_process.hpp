#pragma once
// A group member process (tests/group_member.cpp) started, closed or killed by a test, and
// what it handled: the "<aggregate> <version>" lines of its output file.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace corobus::test {

class member_process {
 public:
  member_process(const std::string& bootstrap, const std::string& topic, const std::string& group,
                 std::size_t max_in_flight);
  ~member_process();  // kills the process if it still runs, removes the output file

  member_process(const member_process&) = delete;
  member_process& operator=(const member_process&) = delete;

  // SIGTERM (the member closes its bus) and the exit status, once it exited.
  int terminate();
  // SIGKILL: the member gets no chance to commit or leave the group.
  void kill();

  // What it handled so far, in the order it finished them.
  std::vector<std::pair<std::string, std::int64_t>> handled() const;
  std::size_t handled_count() const;
  pid_t pid() const noexcept { return pid_; }

 private:
  int wait();
  pid_t pid_ = -1;
  std::filesystem::path output_;
};

}  // namespace corobus::test
