#include <corobus/awaitables/kafka/error.hpp>

#include <boost/system/system_error.hpp>

namespace corobus::kafka {
namespace {

class category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "kafka"; }
  std::string message(int ev) const override { return rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(ev)); }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category_impl instance;
  return instance;
}

void throw_if(rd_kafka_resp_err_t e, const std::string& what) {
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw boost::system::system_error(make_error_code(e), what + ": " + rd_kafka_err2str(e));
}

void throw_if(rd_kafka_error_t* e, const std::string& what) {
  if (!e) return;
  const auto code = rd_kafka_error_code(e);
  const std::string text = rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  throw boost::system::system_error(make_error_code(code), what + ": " + text);
}

}  // namespace corobus::kafka
