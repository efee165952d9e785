#pragma once
// A JetStream key-value bucket with compare-and-set writes, for leases: every entry ages out
// after the bucket's TTL unless written again. cnats's kvStore_* calls block on replies that
// only the event loop reads, so every call here blocks and must run off the connection's
// strand (on a blocking_pool), each bounded by the timeout given at opening.
//
// nats-server 2.9 expires entries silently: a watcher hears no event when a key ages out, so
// users look again on a timer.
#include <corobus/awaitables/nats/connection.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct __kvStore;
struct __jsCtx;

namespace corobus::nats {

struct kv_entry {
  std::string value;
  std::uint64_t revision = 0;
};

struct kv_bucket_spec {
  std::string name;
  std::chrono::milliseconds ttl{10000};
  int replicas = 1;
};

class kv_bucket {
 public:
  // Opens the bucket, creating it when missing. An existing bucket with another TTL is an
  // errc::invalid_config naming both (every user of a bucket must agree on its leases' life).
  kv_bucket(connection& conn, const kv_bucket_spec& spec, std::chrono::milliseconds timeout);
  ~kv_bucket();

  kv_bucket(const kv_bucket&) = delete;
  kv_bucket& operator=(const kv_bucket&) = delete;

  // The key's live value; nullopt when it is missing, deleted or aged out.
  std::optional<kv_entry> get(const std::string& key);
  // Compare-and-set: writes only if the key is missing or deleted; its revision, or nullopt
  // when another writer has it.
  std::optional<std::uint64_t> create(const std::string& key, const std::string& value);
  // Compare-and-set: writes only if the key's last revision is still `revision`.
  std::optional<std::uint64_t> update(const std::string& key, const std::string& value, std::uint64_t revision);
  std::uint64_t put(const std::string& key, const std::string& value);
  void erase(const std::string& key);
  // The live keys that start with `prefix`.
  std::vector<std::string> keys(const std::string& prefix);

 private:
  __jsCtx* js_ = nullptr;
  __kvStore* kv_ = nullptr;
  std::string name_;
};

}  // namespace corobus::nats
