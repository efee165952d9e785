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
  // cnats keeps a thread's last error text until the next failure sets another, through any
  // number of successful calls, and not every failing call sets one: text of another status
  // belongs to an earlier failure and would mislead.
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  const bool this_failure = last == s && text && *text;
  throw boost::system::system_error(make_error_code(s),
                                    this_failure ? fmt::format("{}: {}", what, text) : std::string(what));
}

}  // namespace corobus::nats
