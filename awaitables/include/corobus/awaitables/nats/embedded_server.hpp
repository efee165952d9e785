#pragma once
// An embedded NATS server: a real `nats-server -js` run as a child process, on a free loopback
// port, with a JetStream store directory of its own, so that tests and examples (and a bus
// with `nats.url = "embedded"`) run on a fresh machine with no broker.
//
// - The port is the server's own choice (`-p -1`), read from the line it logs when it listens:
//   no port is picked first and then raced for.
// - A child_process: it dies with the process that started it, start waits until it says it
//   is ready, its output goes to the log at debug level.
// - stop() ends it (SIGTERM, then SIGKILL after stop_timeout); kill() is kill -9, for tests;
//   restart() starts it again on the same port and store. The destructor stops it and removes
//   the store directory.
// Not on an io thread: start and stop block.
#include <corobus/runtime/child_process.hpp>

#include <sys/types.h>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace corobus::nats {

class embedded_server {
 public:
  struct options {
    // A constructor, not an aggregate: see publish_options for the g++ 12 rule.
    options() = default;

    std::string executable = "nats-server";  // looked up in PATH
    std::vector<std::string> extra_args;     // more nats-server arguments
    std::chrono::milliseconds start_timeout{10'000};
    std::chrono::milliseconds stop_timeout{5'000};
  };

  // Starts the server; throws errc::broker_error with what it said when it does not come up
  // within start_timeout (errc::invalid_config when the executable is missing).
  embedded_server();
  explicit embedded_server(options opts);
  ~embedded_server();

  embedded_server(const embedded_server&) = delete;
  embedded_server& operator=(const embedded_server&) = delete;

  // nats://127.0.0.1:<port>
  std::string url() const;
  int port() const noexcept { return port_; }
  pid_t pid() const noexcept { return process_ ? process_->pid() : 0; }  // 0 while it is not running
  const std::filesystem::path& store_dir() const noexcept { return store_dir_; }

  // Ends the server (SIGTERM, then SIGKILL after stop_timeout) and reaps it. Idempotent.
  void stop();
  // kill -9, then reaps it: what JetStream wrote to its store stays.
  void kill();
  // Starts it again, on the same port and store (after stop() or kill()).
  void restart();

 private:
  void start(int port);

  options opts_;
  std::string executable_path_;
  std::filesystem::path store_dir_;
  int port_ = 0;
  std::optional<child_process> process_;
};

}  // namespace corobus::nats
