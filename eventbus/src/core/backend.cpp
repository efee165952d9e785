#include "core/backend.hpp"

#include <boost/system/system_error.hpp>

#include <exception>

namespace corobus::detail {

asio::awaitable<std::vector<publish_result>> backend::publish_envelopes(std::string topic,
                                                                        std::vector<envelope> batch) {
  std::vector<publish_result> results;
  results.reserve(batch.size());
  std::exception_ptr first_failure;
  for (auto& env : batch) {
    try {
      results.push_back(co_await publish_envelope(topic, std::move(env)));
    } catch (const boost::system::system_error&) {  // the later ones are still sent, as on a broker
      if (!first_failure) first_failure = std::current_exception();
      results.emplace_back();
    }
  }
  if (first_failure) std::rethrow_exception(first_failure);
  co_return results;
}

}  // namespace corobus::detail
