#include "member_process.hpp"

#include <fmt/format.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace corobus::test {

member_process::member_process(const std::string& bootstrap, const std::string& topic, const std::string& group,
                               std::size_t max_in_flight, std::vector<std::string> options) {
  static std::atomic<int> started{0};
  output_ = std::filesystem::temp_directory_path() / fmt::format("corobus-member-{}-{}.txt", ::getpid(), started++);
  std::filesystem::remove(output_);
  const std::string window = std::to_string(max_in_flight), out = output_.string();
  std::vector<std::string> args{COROBUS_GROUP_MEMBER, bootstrap, topic, group, out, window};
  // A cross build's binaries run under the emulator (qemu-aarch64), the member too.
  if (const std::string emulator = COROBUS_TEST_EMULATOR; !emulator.empty()) args.insert(args.begin(), emulator);
  args.insert(args.end(), options.begin(), options.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The child must not inherit this process's sockets and eventfds (librdkafka's among them).
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  const int err = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) throw std::runtime_error(fmt::format("cannot start {}: {}", argv[0], std::strerror(err)));
}

member_process::~member_process() {
  if (pid_ > 0) kill();
  std::error_code ignored;
  std::filesystem::remove(output_, ignored);
}

int member_process::wait() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

int member_process::terminate() {
  ::kill(pid_, SIGTERM);
  const int status = wait();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void member_process::kill() {
  ::kill(pid_, SIGKILL);
  wait();
}

void member_process::pause() { ::kill(pid_, SIGSTOP); }
void member_process::resume() { ::kill(pid_, SIGCONT); }

std::vector<handled_envelope> member_process::handled() const {
  std::vector<handled_envelope> lines;
  std::ifstream in(output_);
  handled_envelope h;
  std::int64_t started = 0, finished = 0;
  while (in >> h.aggregate >> h.version >> started >> finished) {
    h.started = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(started));
    h.finished = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(finished));
    lines.push_back(h);
  }
  return lines;
}

std::size_t member_process::handled_count() const { return handled().size(); }

}  // namespace corobus::test
