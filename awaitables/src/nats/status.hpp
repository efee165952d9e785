#pragma once
// JetStream status messages (100 heartbeats, 404, 408, 409) as they come on a pull's reply
// subject: empty, with a Status header.
#include <nats/nats.h>

#include <cstdlib>
#include <string>

namespace corobus::nats::detail {

// The message's status, or 0 for a user message.
inline int status_of(natsMsg* m) {
  const char* value = nullptr;
  if (natsMsg_GetDataLength(m) != 0 || natsMsgHeader_Get(m, "Status", &value) != NATS_OK || !value) return 0;
  return std::atoi(value);
}

inline std::string header_of(natsMsg* m, const char* name) {
  const char* value = nullptr;
  return natsMsgHeader_Get(m, name, &value) == NATS_OK && value ? value : "";
}

inline std::string description_of(natsMsg* m) { return header_of(m, "Description"); }

// What a 408 or 409 says of its request's batch: the messages that will not come.
inline int unfilled_of(natsMsg* m) { return std::atoi(header_of(m, "Nats-Pending-Messages").c_str()); }

}  // namespace corobus::nats::detail
