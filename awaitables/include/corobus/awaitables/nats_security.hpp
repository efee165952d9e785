#pragma once
// How a NATS connection proves who it is to the servers, and how it reaches them: passed to
// cnats only, never logged (a connection's log lines name its URLs, nothing of this). One
// struct for the bus's config and the client (as topic_strategy is).
#include <string>

namespace corobus {

struct nats_security {
  // At most one way of authenticating:
  std::string user;  // with password
  std::string password;
  std::string token;
  std::string creds_file;      // a .creds file (user JWT and NKey seed), as `nsc` writes it
  std::string nkey_public;     // with nkey_seed_file: NKey authentication
  std::string nkey_seed_file;  // the file holding the seed (read by cnats when it signs)

  bool tls = false;           // implied by any tls_* file below or a tls:// URL
  std::string tls_ca_file;    // trusted CAs (PEM); the system's when empty
  std::string tls_cert_file;  // a client certificate (PEM), with tls_key_file
  std::string tls_key_file;
  std::string tls_hostname;      // the name the server's certificate must carry, when not the URL's
  bool tls_skip_verify = false;  // accept any server certificate: for tests only
};

}  // namespace corobus
