#pragma once
// The state of the producer's operations while librdkafka has their records: what a
// delivery report completes. An operation's address travels as its record's opaque.
#include <corobus/awaitables/kafka/record.hpp>
#include <corobus/runtime/asio.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace corobus::kafka {

namespace detail {

// Calls `handler` with `args` on its associated executor, else on `fallback`; inline when
// that is where we run (a post per report would wake another thread for each record).
template <class Handler, class... Args>
void dispatch_completion(Handler& handler, const asio::any_io_executor& fallback, Args... args) {
  const auto ex = asio::get_associated_executor(handler, fallback);
  asio::dispatch(ex, [h = std::move(handler), ... a = std::move(args)]() mutable { std::move(h)(std::move(a)...); });
}

// One record on its way: what producev needs, then the handler its report completes.
struct produce_op {
  explicit produce_op(outgoing_record r) : record(std::move(r)) {}
  virtual ~produce_op() = default;
  virtual void complete(const asio::any_io_executor& fallback, boost::system::error_code ec, delivery_report r) = 0;
  outgoing_record record;
};

template <class Handler>
struct produce_op_with final : produce_op {
  produce_op_with(Handler h, outgoing_record r) : produce_op(std::move(r)), handler(std::move(h)) {}
  void complete(const asio::any_io_executor& fallback, boost::system::error_code ec, delivery_report r) override {
    dispatch_completion(handler, fallback, ec, std::move(r));
  }
  Handler handler;
};

// A batch's records, and what their reports told so far. The records' completions all run
// on the producer's executor (a strand), one at a time.
struct batch_op {
  batch_op(std::vector<outgoing_record> r, asio::any_io_executor ex)
      : records(std::move(r)), reports(records.size()), left(records.size()), executor(std::move(ex)) {}
  virtual ~batch_op() = default;
  virtual void complete() = 0;           // with the first error and every report
  std::vector<outgoing_record> records;  // moved out one by one as they are started
  std::vector<delivery_report> reports;
  boost::system::error_code first_error;
  std::size_t left;
  asio::any_io_executor executor;
};

template <class Handler>
struct batch_op_with final : batch_op {
  batch_op_with(Handler h, std::vector<outgoing_record> r, asio::any_io_executor ex)
      : batch_op(std::move(r), std::move(ex)), handler(std::move(h)) {}
  void complete() override { dispatch_completion(handler, executor, first_error, std::move(reports)); }
  Handler handler;
};

// The handler of one record of a batch: notes its report, and completes the batch with the
// last one.
struct batch_member {
  std::shared_ptr<batch_op> of;
  std::size_t index;
  void operator()(boost::system::error_code ec, delivery_report r) const {
    if (ec && !of->first_error) of->first_error = ec;
    of->reports[index] = std::move(r);
    if (--of->left == 0) of->complete();
  }
};

}  // namespace detail
}  // namespace corobus::kafka
