#include <corobus/runtime/async_op.hpp>
#include <corobus/runtime/log.hpp>

#include <boost/system/system_error.hpp>

namespace corobus {

boost::system::error_code to_error_code(std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& ex) {
    return ex.code();
  } catch (const std::exception& ex) {
    log().error("an operation failed with an unexpected exception: {}", ex.what());
  } catch (...) {
    log().error("an operation failed with an unknown exception");
  }
  return make_error_code(errc::internal);
}

}  // namespace corobus
