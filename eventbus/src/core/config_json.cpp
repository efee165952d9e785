// config::from_json: a reader per JSON object that knows its path, so every error names
// where it is, and that refuses the keys nobody read.
#include <corobus/eventbus/config.hpp>
#include <corobus/runtime/error.hpp>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

namespace corobus {
namespace {

namespace json = boost::json;

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw_error(errc::invalid_config, fmt::format("invalid configuration: {}: {}", path, why));
}

// Values under a secret path (nats.security, the property maps) are never quoted.
struct at {
  std::string path;
  bool secret = false;
};

std::string quoted(const json::value& v, const at& where) { return where.secret ? "the value" : json::serialize(v); }

void parse(const json::value& v, const at& where, std::string& out) {
  if (!v.is_string()) fail(where.path, quoted(v, where) + " must be a string");
  out = v.as_string();
}

void parse(const json::value& v, const at& where, bool& out) {
  if (!v.is_bool()) fail(where.path, quoted(v, where) + " must be true or false");
  out = v.as_bool();
}

template <class Int>
requires std::is_integral_v<Int>
void parse(const json::value& v, const at& where, Int& out) {
  const bool fits =
      v.is_int64() ? std::in_range<Int>(v.as_int64()) : v.is_uint64() && std::in_range<Int>(v.as_uint64());
  if (!v.is_int64() && !v.is_uint64()) fail(where.path, quoted(v, where) + " must be a whole number");
  if (!fits) fail(where.path, quoted(v, where) + " is out of range");
  out = v.is_int64() ? static_cast<Int>(v.as_int64()) : static_cast<Int>(v.as_uint64());
}

void parse(const json::value& v, const at& where, std::chrono::milliseconds& out) {
  std::string text;
  parse(v, where, text);
  double amount = 0;
  const char* end = text.data() + text.size();
  const auto [unit, ec] = std::from_chars(text.data(), end, amount);
  const std::string_view suffix(unit, static_cast<std::size_t>(end - unit));
  constexpr std::pair<std::string_view, double> units[] = {
      {"us", 0.001}, {"ms", 1}, {"s", 1000}, {"min", 60'000}, {"h", 3'600'000}};
  for (const auto& [name, ms] : units)
    if (ec == std::errc() && suffix == name && amount >= 0) {
      out = std::chrono::milliseconds(static_cast<std::int64_t>(amount * ms + 0.5));
      return;
    }
  fail(where.path,
       fmt::format("\"{}\" is not a duration: a number and one of us, ms, s, min, h (\"250ms\", \"5s\")", text));
}

void parse(const json::value& v, const at& where, std::map<std::string, std::string>& out) {
  if (!v.is_object()) fail(where.path, "must be an object of property names and values");
  for (const auto& [key, value] : v.as_object()) {
    if (value.is_string())
      out[key] = value.as_string();
    else if (value.is_bool())
      out[key] = value.as_bool() ? "true" : "false";
    else if (value.is_number())
      out[key] = json::serialize(value);
    else
      fail(fmt::format("{}.{}", where.path, std::string_view(key)), "must be a string, a number or a boolean");
  }
}

template <class T>
void parse(const json::value& v, const at& where, std::optional<T>& out) {
  if (v.is_null()) return out.reset();  // null: unset (the default)
  T value{};
  parse(v, where, value);
  out = value;
}

template <class Enum, std::size_t N>
void parse_enum(const json::value& v, const at& where, Enum& out, const std::pair<const char*, Enum> (&names)[N]) {
  std::string text, known;
  parse(v, where, text);
  for (const auto& [name, value] : names) {
    if (text == name) {
      out = value;
      return;
    }
    known += known.empty() ? name : fmt::format(", {}", name);
  }
  fail(where.path, fmt::format("\"{}\" is not one of {}", text, known));
}

void parse(const json::value& v, const at& where, backend_kind& out) {
  parse_enum(v, where, out,
             {std::pair{"memory", backend_kind::memory}, {"kafka", backend_kind::kafka}, {"nats", backend_kind::nats}});
}
void parse(const json::value& v, const at& where, topic_strategy& out) {
  parse_enum(v, where, out,
             {std::pair{"create_if_missing", topic_strategy::create_if_missing},
              {"validate_only", topic_strategy::validate_only},
              {"skip", topic_strategy::skip}});
}
void parse(const json::value& v, const at& where, nats_storage& out) {
  parse_enum(v, where, out, {std::pair{"file", nats_storage::file}, {"memory", nats_storage::memory}});
}
void parse(const json::value& v, const at& where, nats_retention& out) {
  parse_enum(v, where, out,
             {std::pair{"limits", nats_retention::limits},
              {"interest", nats_retention::interest},
              {"work_queue", nats_retention::work_queue}});
}

class reader {
 public:
  reader(const json::value& v, at where) : where_(std::move(where)) {
    if (!v.is_object()) fail(where_.path, "must be an object");
    object_ = &v.as_object();
  }
  // Every key must have been read: a misspelt one is an error, not a silent default.
  void finish() const {
    for (const auto& [key, value] : *object_)
      if (!read_.contains(key)) fail(where_.path, fmt::format("unknown key '{}'", std::string_view(key)));
  }

  template <class T>
  void operator()(const char* name, T& out, bool secret = false) {
    read_.insert(name);
    if (const auto* v = object_->if_contains(name))
      parse(*v, at{where_.path + "." + name, secret || where_.secret}, out);
  }
  // A nested object, read by f(reader&).
  template <class F>
  void object(const char* name, F&& f, bool secret = false) {
    read_.insert(name);
    if (const auto* v = object_->if_contains(name)) {
      reader nested(*v, at{where_.path + "." + name, secret || where_.secret});
      f(nested);
      nested.finish();
    }
  }

 private:
  at where_;
  const json::object* object_ = nullptr;
  std::set<std::string, std::less<>> read_;
};

void read(reader& r, retry_policy& p) {
  r("attempts", p.attempts);
  r("initial_backoff", p.initial_backoff);
  r("max_backoff", p.max_backoff);
}

void read(reader& r, dead_letter_policy& p) {
  r("initial_backoff", p.initial_backoff);
  r("max_backoff", p.max_backoff);
  r("log_interval", p.log_interval);
  r("give_up_after", p.give_up_after);
}

void read(reader& r, kafka_config& k) {
  r("bootstrap", k.bootstrap);
  r("embedded_brokers", k.embedded_brokers);
  // librdkafka's own properties, as its CONFIGURATION.md names them (sasl.password among them).
  r("properties", k.properties, true);
  r("producer_properties", k.producer_properties, true);
  r("consumer_properties", k.consumer_properties, true);
  r("topics", k.topics);
  r("partitions", k.partitions);
  r("replication", k.replication);
  r("retention", k.retention);
  r("connect_timeout", k.connect_timeout);
  r("commit_interval", k.commit_interval);
  r("max_in_flight", k.max_in_flight);
  r("revoke_timeout", k.revoke_timeout);
  r("close_timeout", k.close_timeout);
}

void read(reader& r, nats_security& s) {
  r("user", s.user);
  r("password", s.password);
  r("token", s.token);
  r("creds_file", s.creds_file);
  r("nkey_public", s.nkey_public);
  r("nkey_seed_file", s.nkey_seed_file);
  r("tls", s.tls);
  r("tls_ca_file", s.tls_ca_file);
  r("tls_cert_file", s.tls_cert_file);
  r("tls_key_file", s.tls_key_file);
  r("tls_hostname", s.tls_hostname);
  r("tls_skip_verify", s.tls_skip_verify);
}

void read(reader& r, nats_config& n) {
  r("url", n.url);
  r.object(
      "security", [&](reader& s) { read(s, n.security); }, true);
  r("topics", n.topics);
  r("storage", n.storage);
  r("retention", n.retention);
  r("replicas", n.replicas);
  r("max_age", n.max_age);
  r("max_bytes", n.max_bytes);
  r("duplicate_window", n.duplicate_window);
  r("max_in_flight", n.max_in_flight);
  r("max_held", n.max_held);
  r("ack_wait", n.ack_wait);
  r("pull_batch", n.pull_batch);
  r("pull_expires", n.pull_expires);
  r("partitions", n.partitions);
  r("lease_ttl", n.lease_ttl);
  r("revoke_timeout", n.revoke_timeout);
  r("connect_timeout", n.connect_timeout);
  r("publish_timeout", n.publish_timeout);
  r("reconnect_wait", n.reconnect_wait);
  r("max_reconnects", n.max_reconnects);
  r("close_timeout", n.close_timeout);
}

void read(reader& r, config& c) {
  r("backend", c.backend);
  r.object("kafka", [&](reader& k) { read(k, c.kafka); });
  r.object("nats", [&](reader& n) { read(n, c.nats); });
  r("io_threads", c.io_threads);
  r("lanes", c.lanes);
  r("lane_capacity", c.lane_capacity);
  r("concurrency", c.concurrency);
  r("stream_capacity", c.stream_capacity);
  r.object("retry", [&](reader& p) { read(p, c.retry); });
  r.object("dead_letters", [&](reader& p) { read(p, c.dead_letters); });
  r("anonymous_group_prefix", c.anonymous_group_prefix);
  r("close_grace", c.close_grace);
}

}  // namespace

config config::from_json(std::string_view text) {
  boost::system::error_code ec;
  const auto root = json::parse(text, ec);
  if (ec) fail("config", fmt::format("not JSON: {}", ec.message()));
  config c;
  reader r(root, at{"config"});
  read(r, c);
  r.finish();
  c.validate();
  return c;
}

config config::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("config", fmt::format("cannot read the file '{}'", path));
  std::ostringstream text;
  text << in.rdbuf();
  return from_json(text.str());
}

}  // namespace corobus
