#include <corobus/awaitables/nats/embedded_server.hpp>
#include <corobus/runtime/error.hpp>
#include <corobus/runtime/log.hpp>

#include <fmt/format.h>
#include <boost/system/system_error.hpp>

#include <cerrno>
#include <cstdlib>

namespace corobus::nats {
namespace {

constexpr std::string_view listening = "Listening for client connections on ";
constexpr std::string_view ready = "Server is ready";

std::filesystem::path make_store_dir() {
  auto pattern = (std::filesystem::temp_directory_path() / "corobus-nats-XXXXXX").string();
  if (!::mkdtemp(pattern.data()))
    throw boost::system::system_error(errno, boost::system::system_category(), "mkdtemp for the NATS store");
  return pattern;
}

}  // namespace

embedded_server::embedded_server() : embedded_server(options{}) {}

embedded_server::embedded_server(options opts)
    : opts_(std::move(opts)),
      executable_path_(find_executable(opts_.executable,
                                       "the embedded NATS server needs it (Debian package "
                                       "nats-server; ./dev installs it)")),
      store_dir_(make_store_dir()) {
  try {
    start(-1);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove_all(store_dir_, ignored);
    throw;
  }
}

embedded_server::~embedded_server() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(store_dir_, ec);
  if (ec) log().warn("could not remove the NATS store {}: {}", store_dir_.string(), ec.message());
}

std::string embedded_server::url() const { return fmt::format("nats://127.0.0.1:{}", port_); }

void embedded_server::start(int port) {
  std::vector<std::string> args{executable_path_,   "-js", "-a", "127.0.0.1", "-p", std::to_string(port), "-sd",
                                store_dir_.string()};
  args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  child_process::options o;
  o.name = "nats-server";
  o.start_timeout = opts_.start_timeout;
  o.stop_timeout = opts_.stop_timeout;
  // The port is the server's choice (-p -1), read from the line it logs when it listens.
  int listening_on = 0;
  process_.emplace(
      std::move(args),
      [&listening_on](std::string_view line) {
        if (line.find(listening) != std::string_view::npos) {
          const auto colon = line.rfind(':');
          listening_on = std::atoi(std::string(line.substr(colon + 1)).c_str());
        }
        return line.find(ready) != std::string_view::npos;
      },
      std::move(o));
  if (listening_on <= 0) {
    process_.reset();
    throw_error(errc::broker_error, "nats-server is ready but did not say its client port");
  }
  port_ = listening_on;
}

void embedded_server::stop() {
  if (process_) process_->stop();
  process_.reset();
}

void embedded_server::kill() {
  if (process_) process_->kill();
  process_.reset();
}

void embedded_server::restart() {
  stop();
  start(port_);
}

}  // namespace corobus::nats
