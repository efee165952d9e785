#pragma once
// Everything an application needs.
#include <corobus/eventbus/bus.hpp>
#include <corobus/eventbus/config.hpp>
#include <corobus/eventbus/envelope.hpp>
#include <corobus/eventbus/handlers.hpp>
#include <corobus/eventbus/message.hpp>
#include <corobus/eventbus/metrics.hpp>
#include <corobus/eventbus/stream.hpp>
#include <corobus/eventbus/topic.hpp>
#include <corobus/runtime/error.hpp>
