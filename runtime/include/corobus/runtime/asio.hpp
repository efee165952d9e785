#pragma once
// The asio pieces every layer uses, and the namespace alias corobus code is written with.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <corobus/runtime/asio_configuration.hpp>

namespace corobus {
namespace asio = boost::asio;
}  // namespace corobus
