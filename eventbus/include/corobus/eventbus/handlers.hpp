#pragma once
// The handler types subscriptions take. A handler that throws (or whose awaitable throws)
// has failed: the message is retried, then dead-lettered.
#include <corobus/eventbus/envelope.hpp>
#include <corobus/eventbus/message.hpp>
#include <corobus/runtime/asio.hpp>

#include <functional>

namespace corobus {

using message_handler = std::function<asio::awaitable<void>(const message&)>;
using envelope_handler = std::function<asio::awaitable<void>(const envelope&)>;

}  // namespace corobus
