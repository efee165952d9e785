#include <corobus/runtime/log.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace corobus {

spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("corobus")) return existing;
    try {
      return spdlog::stderr_color_mt("corobus");
    } catch (const spdlog::spdlog_ex&) {  // registered concurrently by the application
      return spdlog::get("corobus");
    }
  }();
  return *logger;
}

}  // namespace corobus
