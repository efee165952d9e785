// The one definition runtime/asio_configuration.hpp refers to: this library's asio.
#include <corobus/runtime/asio_configuration.hpp>

namespace corobus::detail {

bool asio_configuration_is(this_asio_configuration) noexcept { return true; }

}  // namespace corobus::detail
