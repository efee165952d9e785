#include <corobus/awaitables/kafka/event_queue.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/system/system_error.hpp>

#include <sys/eventfd.h>

#include <cerrno>

namespace corobus::kafka {
namespace {

int make_eventfd() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw boost::system::system_error(errno, boost::system::system_category(), "eventfd");
  return fd;
}

}  // namespace

namespace {
constexpr std::uint64_t one = 1;  // eventfd takes exactly 8 bytes
}  // namespace

event_queue::event_queue(asio::any_io_executor ex, queue_ptr queue)
    : queue_(std::move(queue)), wake_(std::move(ex), make_eventfd()) {
  rd_kafka_queue_io_event_enable(queue_.get(), wake_.native_handle(), &one, sizeof one);
}

void event_queue::also_wake_for(rd_kafka_queue_t* other) noexcept {
  rd_kafka_queue_io_event_enable(other, wake_.native_handle(), &one, sizeof one);
}

event_queue::~event_queue() { rd_kafka_queue_io_event_enable(queue_.get(), -1, nullptr, 0); }

asio::awaitable<void> event_queue::wait_op() {
  co_await wake_.async_read_some(asio::buffer(counter_), asio::use_awaitable);
}

}  // namespace corobus::kafka
