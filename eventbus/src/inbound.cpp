#include <corobus/eventbus/detail/inbound.hpp>

namespace corobus::detail {

void inbound::make_whole() {
  if (!fetched) return;
  auto whole = std::make_shared<message>(*msg);
  whole->payload = fetched->payload();
  whole->headers = fetched->headers();
  msg = std::move(whole);
  fetched.reset();
}

}  // namespace corobus::detail
