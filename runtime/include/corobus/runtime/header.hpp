#pragma once
// A message header, the one type for every layer: the bus's messages and the clients' records.
#include <string>
#include <vector>

namespace corobus {

struct header {
  std::string name;
  std::string value;
  friend bool operator==(const header&, const header&) = default;
};
// Ordered, and a name may repeat, as in Kafka record headers.
using headers = std::vector<header>;

}  // namespace corobus
