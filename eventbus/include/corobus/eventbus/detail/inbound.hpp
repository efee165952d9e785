#pragma once
// One message on its way through a subscription.
#include <corobus/eventbus/envelope.hpp>
#include <corobus/eventbus/message.hpp>

#include <memory>

namespace corobus::detail {

struct inbound {
  // A constructor, not an aggregate: see publish_options for the g++ 12 bug this avoids.
  inbound(std::shared_ptr<const message> m, std::shared_ptr<const envelope> e) : msg(std::move(m)), env(std::move(e)) {}

  std::shared_ptr<const message> msg;
  // Set for envelope subscriptions: decoded from msg->payload, or the object the in-process
  // backend was given (then msg->payload may be empty: nobody needed the bytes).
  std::shared_ptr<const envelope> env;
  unsigned attempt = 1;  // deliveries so far, counting this one
};

}  // namespace corobus::detail
