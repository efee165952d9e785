#include "core/incoming_message.hpp"

namespace corobus::detail {

void incoming_message::detach_from_transport() {
  if (!fetched) return;
  auto whole = std::make_shared<message>(*msg);
  whole->payload = fetched->payload();
  whole->headers = fetched->headers();
  msg = std::move(whole);
  fetched.reset();
}

}  // namespace corobus::detail
