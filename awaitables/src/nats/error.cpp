#include <corobus/awaitables/nats/error.hpp>

#include <fmt/format.h>
#include <boost/system/system_error.hpp>

namespace corobus::nats {
namespace {

class category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "nats"; }
  std::string message(int ev) const override { return natsStatus_GetText(static_cast<natsStatus>(ev)); }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category_impl instance;
  return instance;
}

void throw_if(natsStatus s, std::string_view what) {
  if (s == NATS_OK) return;
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  throw boost::system::system_error(make_error_code(s),
                                    text && *text ? fmt::format("{}: {}", what, text) : std::string(what));
}

}  // namespace corobus::nats
