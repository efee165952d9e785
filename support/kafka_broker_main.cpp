// A real Apache Kafka broker on loopback (corobus/support/kafka_broker.hpp) kept running for
// others.
//   corobus_kafka_broker             `./dev kafka`: until Ctrl-C, its bootstrap address printed
//                                    first, for running the examples against it with --config
//   corobus_kafka_broker start DIR   ctest's fixture kafka_broker/start: starts a keeper process
//                                    that runs the broker, writes its address to DIR/bootstrap
//                                    and returns once it answers; the keeper ends, and the
//                                    broker with it, on `stop DIR` or when ctest itself ends
//   corobus_kafka_broker stop DIR    the fixture kafka_broker/stop
#include <corobus/support/kafka_broker.hpp>

#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

// glibc 2.36's <sys/pidfd.h> declares pidfd_open without extern "C": the raw system call.
int pidfd_of(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// SIGINT and SIGTERM, blocked before the broker's threads start so that only `stop` takes them.
sigset_t block_stop_signals() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  return stop;
}

int serve_until_ctrl_c() {
  auto stop = block_stop_signals();
  try {
    corobus::support::kafka_broker broker;
    std::printf("Apache Kafka on %s (Ctrl-C stops it)\n", broker.bootstrap().c_str());
    std::fflush(stdout);
    int signal = 0;
    sigwait(&stop, &signal);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}

// The keeper: runs the broker until SIGTERM or until `watched` (ctest) ends, whichever first.
// What it says about starting goes through `report` (the starter's pipe): "ok" or the error.
[[noreturn]] void keep(const fs::path& dir, pid_t watched, int report) {
  // ctest reads the starter's output until every copy of its pipe closed: the keeper keeps
  // none. Its own log (and the broker's warnings) go to DIR/keeper.log.
  const int null = ::open("/dev/null", O_RDWR);
  const int log_file = ::open((dir / "keeper.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ::dup2(null, STDIN_FILENO);
  ::dup2(null, STDOUT_FILENO);
  ::dup2(log_file < 0 ? null : log_file, STDERR_FILENO);
  ::setsid();  // no signal meant for ctest's process group
  auto stop = block_stop_signals();
  const int stop_fd = ::signalfd(-1, &stop, SFD_CLOEXEC);
  const int ctest_fd = pidfd_of(watched);
  int status = 0;
  try {
    spdlog::set_level(spdlog::level::debug);
    corobus::support::kafka_broker broker;
    {
      std::ofstream(dir / "keeper.pid") << ::getpid() << "\n";
      std::ofstream(dir / "bootstrap.new") << broker.bootstrap() << "\n";
      fs::rename(dir / "bootstrap.new", dir / "bootstrap");
    }
    const auto ok = fmt::format("ok {}", broker.bootstrap());
    (void)!::write(report, ok.data(), ok.size());
    ::close(report);
    pollfd ends[2] = {{stop_fd, POLLIN, 0}, {ctest_fd, POLLIN, 0}};
    while (::poll(ends, ctest_fd < 0 ? 1 : 2, -1) < 0 && errno == EINTR) {
    }
  } catch (const std::exception& e) {
    (void)!::write(report, e.what(), std::strlen(e.what()));
    status = 1;
  }
  std::error_code ignored;
  fs::remove(dir / "bootstrap", ignored);
  fs::remove(dir / "keeper.pid", ignored);
  std::fflush(nullptr);
  ::_exit(status);
}

int start(const fs::path& dir) {
  fs::create_directories(dir);
  std::error_code ignored;
  fs::remove(dir / "bootstrap", ignored);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return 1;
  const pid_t watched = ::getppid();
  const pid_t keeper = ::fork();
  if (keeper < 0) return 1;
  if (keeper == 0) {
    ::close(report[0]);
    keep(dir, watched, report[1]);
  }
  ::close(report[1]);
  std::string said;
  char chunk[512];
  for (ssize_t got; (got = ::read(report[0], chunk, sizeof chunk)) != 0;)
    if (got > 0)
      said.append(chunk, static_cast<std::size_t>(got));
    else if (errno != EINTR)
      break;
  if (said.rfind("ok ", 0) != 0) {
    std::fprintf(stderr, "the Kafka broker did not start: %s (%s)\n", said.empty() ? "the keeper died" : said.c_str(),
                 (dir / "keeper.log").c_str());
    return 1;
  }
  std::printf("Apache Kafka on %s, until ctest ends\n", said.c_str() + 3);
  return 0;
}

int stop(const fs::path& dir) {
  pid_t keeper = 0;
  if (!(std::ifstream(dir / "keeper.pid") >> keeper)) return 0;  // not running
  const int fd = pidfd_of(keeper);
  if (fd < 0) return 0;  // ended already
  ::kill(keeper, SIGTERM);
  pollfd ended{fd, POLLIN, 0};
  if (::poll(&ended, 1, 30'000) <= 0) {
    std::fprintf(stderr, "the Kafka broker's keeper (pid %d) did not end within 30 s; killed\n", keeper);
    ::kill(keeper, SIGKILL);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 1) return serve_until_ctrl_c();
  if (argc == 3 && std::string(argv[1]) == "start") return start(argv[2]);
  if (argc == 3 && std::string(argv[1]) == "stop") return stop(argv[2]);
  std::fprintf(stderr, "usage: %s [start DIR | stop DIR]\n", argv[0]);
  return 2;
}
