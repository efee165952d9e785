#include <corobus/runtime/child_process.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/log.hpp>

#include <fmt/format.h>
#include <boost/system/system_error.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <optional>

extern char** environ;

namespace corobus {
namespace {

// The child's output, line by line, as it comes.
class line_reader {
 public:
  explicit line_reader(int fd) : fd_(fd) {}

  // The next complete line, waiting until `deadline`; empty optional at the end of the
  // output or at the deadline (`timed_out` says which).
  std::optional<std::string> next(std::chrono::steady_clock::time_point deadline, bool& timed_out) {
    timed_out = false;
    for (;;) {
      if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      int wait_ms = -1;  // no deadline
      if (deadline != std::chrono::steady_clock::time_point::max()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          timed_out = true;
          return std::nullopt;
        }
        wait_ms = static_cast<int>(left.count());
      }
      pollfd p{fd_, POLLIN, 0};
      const int n = ::poll(&p, 1, wait_ms);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) continue;  // the deadline, seen above
      char chunk[4096];
      const auto got = ::read(fd_, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return std::nullopt;  // the process ended
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
  }

 private:
  int fd_;
  std::string buffer_;
};

}  // namespace

std::string find_executable(const std::string& name, std::string_view hint) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const auto colon = dirs.find(':');
    const auto dir = dirs.substr(0, colon);
    auto candidate = std::string(dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  throw_error(errc::invalid_config, fmt::format("'{}' is not in PATH: {}", name, hint));
}

child_process::child_process(std::vector<std::string> args, const std::function<bool(std::string_view)>& ready,
                             options opts)
    : opts_(std::move(opts)) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), opts_.environment.begin(), opts_.environment.end());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw boost::system::system_error(errno, boost::system::system_category(), "pipe2");
  // fork, not posix_spawn, for the prctl: only prctl, dup2, execve and _exit run in the child
  // (all safe after a fork in a threaded process), and everything they need was built above.
  std::promise<pid_t> forked;
  std::promise<std::optional<line_reader>> handed_over;
  const pid_t parent = ::getpid();
  output_ = std::thread([&argv, &envp, &forked, parent, name = opts_.name, fd = out[0], write_end = out[1],
                         reader = handed_over.get_future()]() mutable {
    const pid_t child = ::fork();
    if (child == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before the prctl
      sigset_t none;                            // a mask the parent's thread blocked (sigwait) is not the server's
      ::sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::dup2(write_end, STDOUT_FILENO);
      ::dup2(write_end, STDERR_FILENO);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    forked.set_value(child < 0 ? -errno : child);
    if (child < 0) return;
    // From readiness on, its output is only logged; this ends when the process does.
    if (auto r = reader.get()) {
      bool ignored = false;
      while (auto l = r->next(std::chrono::steady_clock::time_point::max(), ignored)) log().debug("{}: {}", name, *l);
    }
    ::close(fd);
  });
  const pid_t child = forked.get_future().get();
  ::close(out[1]);
  if (child < 0) {
    output_.join();
    ::close(out[0]);
    throw boost::system::system_error(-child, boost::system::system_category(), "fork for " + opts_.name);
  }
  pid_ = child;
  // glibc 2.36's <sys/pidfd.h> declares pidfd_open without extern "C": the raw system call.
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  const auto stop_and_throw = [&](const std::string& why) {
    handed_over.set_value(std::nullopt);  // the thread closes the pipe
    end(SIGKILL);
    if (pidfd_ < 0) {
      ::waitpid(pid_, nullptr, 0);
      pid_ = 0;
      output_.join();
    } else {
      reap_within(opts_.stop_timeout);
    }
    throw_error(errc::broker_error, why);
  };
  if (pidfd_ < 0) stop_and_throw(fmt::format("pidfd_open for {}: {}", opts_.name, std::strerror(errno)));

  // Wait until it says it is ready, keeping its first and last lines for the error message
  // (a bad flag is named in the first line, before the usage text).
  line_reader reader(out[0]);
  std::vector<std::string> first;
  std::deque<std::string> last;
  const auto deadline = std::chrono::steady_clock::now() + opts_.start_timeout;
  bool timed_out = false;
  for (;;) {
    auto line = reader.next(deadline, timed_out);
    if (!line) {
      std::string said;
      for (const auto& l : first) said += "\n  " + l;
      if (!last.empty()) said += "\n  ...";
      for (const auto& l : last) said += "\n  " + l;
      if (opts_.run_to_exit && !timed_out) {
        handed_over.set_value(std::nullopt);
        reap_within(opts_.stop_timeout);
        if (WIFEXITED(status_) && WEXITSTATUS(status_) == 0) return;
        throw_error(errc::broker_error, fmt::format("{} failed (status {}); it said:{}", opts_.name, status_, said));
      }
      stop_and_throw(timed_out ? fmt::format("{} did not become ready within {} ms; it said:{}", opts_.name,
                                             opts_.start_timeout.count(), said)
                               : fmt::format("{} exited while starting; it said:{}", opts_.name, said));
    }
    log().debug("{}: {}", opts_.name, *line);
    if (!opts_.run_to_exit && ready(*line)) break;
    if (first.size() < 5) {
      first.push_back(std::move(*line));
    } else {
      last.push_back(std::move(*line));
      if (last.size() > 15) last.pop_front();
    }
  }
  handed_over.set_value(std::move(reader));
}

child_process::~child_process() { stop(); }

void child_process::end(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

bool child_process::reap_within(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return true;
  pollfd p{pidfd_, POLLIN, 0};
  int n;
  do n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  while (n < 0 && errno == EINTR);
  if (n == 0) return false;
  ::waitpid(pid_, &status_, 0);
  ::close(pidfd_);
  pidfd_ = -1;
  pid_ = 0;
  if (output_.joinable()) output_.join();
  return true;
}

void child_process::stop() {
  if (pid_ <= 0) return;
  end(SIGTERM);
  if (reap_within(opts_.stop_timeout)) return;
  log().warn("{} (pid {}) did not stop within {} ms; killing it", opts_.name, pid_, opts_.stop_timeout.count());
  kill();
}

void child_process::kill() {
  if (pid_ <= 0) return;
  end(SIGKILL);
  reap_within(std::chrono::milliseconds(30'000));
}

}  // namespace corobus
