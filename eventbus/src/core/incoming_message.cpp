#include "core/incoming_message.hpp"
#include "envelope/raw_member.hpp"

namespace corobus::detail {

void incoming_message::detach_from_transport() {
  if (!fetched) return;
  auto whole = std::make_shared<message>(*msg);
  whole->payload = fetched->payload();
  whole->headers = fetched->headers();
  msg = std::move(whole);
  fetched.reset();
}

std::string_view ordering_key(const incoming_message& in, bool envelopes, std::string& scratch) {
  if (envelopes) {
    if (in.env) return in.env->aggregate_id;
    if (const auto id = aggregate_id_of(in.payload(), scratch)) return *id;
  }
  return in.msg->key;
}

bool decode_envelope(incoming_message& in, std::string& error) {
  if (in.env) return true;
  try {
    in.env = std::make_shared<const envelope>(envelope::decode(in.payload()));
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

}  // namespace corobus::detail
