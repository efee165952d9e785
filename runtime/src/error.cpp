#include <corobus/runtime/error.hpp>

namespace corobus {
namespace {

class category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "corobus"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::closed: return "closed";
      case errc::invalid_envelope: return "invalid envelope";
      case errc::invalid_topic: return "invalid topic name";
      case errc::invalid_config: return "invalid configuration";
      case errc::invalid_argument: return "invalid argument";
      case errc::timeout: return "timed out";
      case errc::broker_error: return "broker error";
      case errc::internal: return "internal error";
    }
    return "unknown corobus error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category_impl instance;
  return instance;
}

void throw_error(errc e, const std::string& what) { throw boost::system::system_error(make_error_code(e), what); }

}  // namespace corobus
