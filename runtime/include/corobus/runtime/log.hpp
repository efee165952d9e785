#pragma once
// The library logs through the spdlog logger named "corobus". An application that registers
// its own logger under that name before first use gets every line; otherwise corobus makes
// one that writes to stderr (spdlog's default logger writes to stdout, which a library must
// leave to its application).
#include <spdlog/logger.h>

namespace corobus {

spdlog::logger& log();

}  // namespace corobus
