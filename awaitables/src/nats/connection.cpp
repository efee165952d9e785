#include <corobus/awaitables/nats/connection.hpp>
#include <corobus/awaitables/nats/error.hpp>
#include <corobus/runtime/log.hpp>

#include "nats/event_loop.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <future>
#include <mutex>
#include <string_view>
#include <vector>

namespace corobus::nats {

namespace detail {

// cnats's connection callbacks run on its one library-wide async-callback thread: they only
// note what happened and post the rest to the strand. Closed is the last one a connection
// gets; close() waits for it before the events may go.
struct connection_events {
  connection_events(connection::strand_type s, std::function<void()> f)
      : strand(std::move(s)), after_reconnect(std::move(f)) {}

  connection::strand_type strand;
  std::function<void()> after_reconnect;
  mutable std::mutex mutex;
  connection_state state;
  std::promise<void> closed;

  static void on_disconnected(natsConnection*, void* self) {
    auto* e = static_cast<connection_events*>(self);
    std::lock_guard lock(e->mutex);
    e->state.connected = false;
    ++e->state.disconnects;
  }
  static void on_reconnected(natsConnection*, void* self) {
    auto* e = static_cast<connection_events*>(self);
    {
      std::lock_guard lock(e->mutex);
      e->state.connected = true;
      ++e->state.reconnects;
    }
    if (e->after_reconnect) asio::post(e->strand, e->after_reconnect);
  }
  static void on_closed(natsConnection*, void* self) {
    auto* e = static_cast<connection_events*>(self);
    {
      std::lock_guard lock(e->mutex);
      e->state.connected = false;
    }
    e->closed.set_value();
  }
  static void on_error(natsConnection* nc, natsSubscription*, natsStatus err, void* self) {
    auto* e = static_cast<connection_events*>(self);
    // The server's own words (a permissions violation names the subject) are the
    // connection's last error; natsStatus_GetText says only "Not Permitted".
    const char* text = nullptr;
    natsConnection_GetLastError(nc, &text);
    std::string said = text && *text ? text : natsStatus_GetText(err);
    log().warn("NATS: {}", said);
    std::lock_guard lock(e->mutex);
    e->state.last_error = std::move(said);
  }
};

}  // namespace detail

namespace {

struct options_deleter {
  void operator()(natsOptions* o) const noexcept { natsOptions_Destroy(o); }
};

// The URLs as they may be logged: without a user or password written in them
// (nats://user:secret@host).
std::string redacted(std::string_view urls) {
  std::string out;
  for (std::size_t i = 0; i < urls.size();) {
    const auto end = std::min(urls.find(',', i), urls.size());
    auto one = urls.substr(i, end - i);
    const auto scheme = one.find("://");
    const auto at = one.find('@');
    if (at != std::string_view::npos && (scheme == std::string_view::npos || at > scheme)) {
      out += one.substr(0, scheme == std::string_view::npos ? 0 : scheme + 3);
      out += "***@";
      out += one.substr(at + 1);
    } else {
      out += one;
    }
    if (end < urls.size()) out += ',';
    i = end + 1;
  }
  return out;
}

// Secrets go to cnats and nowhere else: the errors name the setting, never its value.
void apply(const nats_security& s, natsOptions* opts) {
  if (!s.user.empty()) throw_if(natsOptions_SetUserInfo(opts, s.user.c_str(), s.password.c_str()), "NATS user");
  if (!s.token.empty()) throw_if(natsOptions_SetToken(opts, s.token.c_str()), "NATS token");
  if (!s.creds_file.empty())
    throw_if(natsOptions_SetUserCredentialsFromFiles(opts, s.creds_file.c_str(), nullptr), "NATS creds_file");
  if (!s.nkey_public.empty())
    throw_if(natsOptions_SetNKeyFromSeed(opts, s.nkey_public.c_str(), s.nkey_seed_file.c_str()), "NATS nkey");
  const bool tls = s.tls || !s.tls_ca_file.empty() || !s.tls_cert_file.empty() || s.tls_skip_verify;
  if (!tls) return;
  throw_if(natsOptions_SetSecure(opts, true), "NATS TLS");
  if (!s.tls_ca_file.empty())
    throw_if(natsOptions_LoadCATrustedCertificates(opts, s.tls_ca_file.c_str()), "NATS tls_ca_file");
  if (!s.tls_cert_file.empty())
    throw_if(natsOptions_LoadCertificatesChain(opts, s.tls_cert_file.c_str(), s.tls_key_file.c_str()),
             "NATS tls_cert_file/tls_key_file");
  if (!s.tls_hostname.empty())
    throw_if(natsOptions_SetExpectedHostname(opts, s.tls_hostname.c_str()), "NATS tls_hostname");
  if (s.tls_skip_verify) throw_if(natsOptions_SkipServerVerification(opts, true), "NATS tls_skip_verify");
}

}  // namespace

connection::connection(strand_type strand, const connect_options& options, std::function<void()> after_read,
                       std::function<void()> after_reconnect)
    : strand_(std::move(strand)),
      loop_(std::make_shared<detail::event_loop>(strand_, std::move(after_read))),
      events_(std::make_shared<detail::connection_events>(strand_, std::move(after_reconnect))),
      timeout_(options.timeout) {
  natsOptions* raw = nullptr;
  throw_if(natsOptions_Create(&raw), "NATS options");
  std::unique_ptr<natsOptions, options_deleter> opts(raw);
  // natsOptions_SetURL takes one URL; a comma-separated list (a cluster) goes to SetServers.
  std::vector<std::string> urls;
  for (std::string_view rest = options.url; !rest.empty();) {
    const auto comma = rest.find(',');
    auto one = rest.substr(0, comma);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    if (!one.empty()) urls.emplace_back(one);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::vector<const char*> servers;
  for (const auto& u : urls) servers.push_back(u.c_str());
  throw_if(natsOptions_SetServers(opts.get(), servers.data(), static_cast<int>(servers.size())), "NATS url");
  throw_if(natsOptions_SetTimeout(opts.get(), options.timeout.count()), "NATS connect timeout");
  throw_if(natsOptions_SetAllowReconnect(opts.get(), options.allow_reconnect), "NATS reconnect");
  throw_if(natsOptions_SetMaxReconnect(opts.get(), options.max_reconnect), "NATS max reconnect");
  throw_if(natsOptions_SetReconnectWait(opts.get(), options.reconnect_wait.count()), "NATS reconnect wait");
  throw_if(natsOptions_SetEventLoop(opts.get(), loop_.get(), &detail::event_loop::attach, &detail::event_loop::read,
                                    &detail::event_loop::write, &detail::event_loop::detach),
           "NATS event loop");
  throw_if(natsOptions_SetSendAsap(opts.get(), options.send_asap), "NATS send asap");
  apply(options.security, opts.get());
  auto* e = events_.get();
  throw_if(natsOptions_SetDisconnectedCB(opts.get(), &detail::connection_events::on_disconnected, e), "NATS callbacks");
  throw_if(natsOptions_SetReconnectedCB(opts.get(), &detail::connection_events::on_reconnected, e), "NATS callbacks");
  throw_if(natsOptions_SetClosedCB(opts.get(), &detail::connection_events::on_closed, e), "NATS callbacks");
  throw_if(natsOptions_SetErrorHandler(opts.get(), &detail::connection_events::on_error, e), "NATS callbacks");
  throw_if(natsConnection_Connect(&nc_, opts.get()), "connecting to NATS at " + redacted(options.url));
  std::lock_guard lock(events_->mutex);
  events_->state.connected = true;
}

connection::~connection() { close(); }

void connection::close() {
  if (!nc_) return;
  // Buffered data is lost unless it was written first: flush while the strand still runs
  // (this thread only waits for the PONG the strand reads).
  if (const auto s = natsConnection_FlushTimeout(nc_, timeout_.count()); s != NATS_OK)
    log().warn("NATS: flushing before close: {}", natsStatus_GetText(s));
  // cnats closes the socket on this thread: the strand lets go of it first (a wait armed on
  // it meanwhile would reach a closed, or reused, descriptor; ThreadSanitizer saw the race).
  if (!loop_->stop_polling(std::chrono::seconds(5)))
    log().warn("NATS: the event loop did not stop polling within 5 s (is its io_context running?)");
  natsConnection_Close(nc_);
  // The strand may still hold the socket and reach the connection: it must let go first.
  if (!loop_->wait_detached(std::chrono::seconds(5)))
    log().warn("NATS: the event loop did not let go of the connection within 5 s (is its io_context running?)");
  natsConnection_Destroy(nc_);
  nc_ = nullptr;
  // No callback may come after this object is gone: closed is the last.
  if (events_->closed.get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready)
    log().warn("NATS: the closed callback did not come within 5 s");
}

connection_state connection::state() const {
  connection_state s;
  {
    std::lock_guard lock(events_->mutex);
    s = events_->state;
  }
  char url[512] = {};
  if (s.connected && nc_ && natsConnection_GetConnectedUrl(nc_, url, sizeof url) == NATS_OK) s.server = url;
  return s;
}

}  // namespace corobus::nats
