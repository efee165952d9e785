// cnats on the io_context: a connection whose socket I/O runs on a strand, with synchronous
// subscriptions drained there, against a real nats-server.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <corobus/awaitables/nats/connection.hpp>
#include <corobus/awaitables/nats/embedded_server.hpp>
#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/jetstream_publisher.hpp>
#include <corobus/awaitables/nats/reply_router.hpp>
#include <corobus/runtime/blocking_pool.hpp>
#include <corobus/runtime/io_pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <vector>

using namespace corobus;
using namespace corobus::test;

namespace {

// A synchronous subscription, drained on the strand after each read event.
struct drained_subscription {
  natsSubscription* sub = nullptr;
  std::mutex mutex;
  std::vector<std::string> got;

  void drain() {
    if (!sub) return;
    int pending = 0, bytes = 0;
    // GetPending first: NextMsg on an empty queue returns NATS_TIMEOUT and pushes onto
    // cnats's error stack each time.
    while (natsSubscription_GetPending(sub, &pending, &bytes) == NATS_OK && pending > 0) {
      natsMsg* m = nullptr;
      if (natsSubscription_NextMsg(&m, sub, 0) != NATS_OK) break;
      {
        std::lock_guard lock(mutex);
        got.emplace_back(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
      }
      natsMsg_Destroy(m);
    }
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return got.size();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(nats_awaitables, *boost::unit_test::label("nats"))

BOOST_AUTO_TEST_CASE(a_connection_on_a_strand_publishes_and_receives_in_order_and_leaves_nothing_behind) {
  nats::embedded_server server;
  const auto threads_before = thread_count();
  const auto fds_before = descriptor_count();
  {
    io_pool pool(2);
    blocking_pool blocking(1);
    auto strand = asio::make_strand(asio::any_io_executor(pool.get_executor()));
    drained_subscription inbox;
    // Connect off the io threads: the handshake waits for the strand.
    auto conn = blocking
                    .async_call(
                        [&] {
                          return std::make_shared<nats::connection>(strand, nats::connect_options(server.url()),
                                                                    [&inbox] { inbox.drain(); });
                        },
                        asio::use_future)
                    .get();
    std::promise<void> subscribed;
    asio::post(strand, [&] {
      nats::throw_if(natsConnection_SubscribeSync(&inbox.sub, conn->handle(), "orders.>"), "subscribe");
      natsSubscription_SetPendingLimits(inbox.sub, -1, -1);
      subscribed.set_value();
    });
    subscribed.get_future().get();
    // The SUB must reach the server before the publishes: a flush (blocking, off the strand).
    blocking
        .async_call([&] { nats::throw_if(natsConnection_FlushTimeout(conn->handle(), 2000), "flush"); },
                    asio::use_future)
        .get();
    constexpr int count = 10'000;
    asio::post(strand, [&] {
      for (int i = 0; i < count; ++i)
        natsConnection_PublishString(conn->handle(), "orders.created", std::to_string(i).c_str());
    });
    BOOST_TEST_REQUIRE(eventually([&] { return inbox.size() == static_cast<std::size_t>(count); }, 20s));
    for (int i = 0; i < count; ++i) BOOST_TEST_REQUIRE(inbox.got[i] == std::to_string(i));  // in order
    std::promise<void> unsubscribed;
    asio::post(strand, [&] {
      natsSubscription_Destroy(std::exchange(inbox.sub, nullptr));
      unsubscribed.set_value();
    });
    unsubscribed.get_future().get();
    conn->close();  // from this thread while the strand runs
    conn.reset();
    blocking.shutdown();
    pool.shutdown();
  }
  // cnats's library threads end with the last library_use (nats_CloseAndWait).
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
  BOOST_TEST(descriptor_count() == fds_before);
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_fails_the_connect_clearly_within_its_timeout) {
  io_pool pool(1);
  auto strand = asio::make_strand(asio::any_io_executor(pool.get_executor()));
  nats::connect_options options("nats://127.0.0.1:1");
  options.timeout = std::chrono::milliseconds(500);
  options.allow_reconnect = false;
  const auto start = std::chrono::steady_clock::now();
  try {
    nats::connection conn(strand, options, nullptr);
    BOOST_FAIL("connected to nothing");
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == nats::make_error_code(NATS_NO_SERVER)), e.what());
    BOOST_TEST(std::string(e.what()).find("127.0.0.1:1") != std::string::npos, e.what());
  }
  BOOST_TEST((std::chrono::steady_clock::now() - start < 3s));
  pool.shutdown();
}

BOOST_AUTO_TEST_CASE(jetstream_publishes_complete_on_their_pub_acks_and_a_repeated_id_is_stored_once) {
  nats::embedded_server server;
  io_pool pool(2);
  blocking_pool blocking(1);
  auto strand = asio::make_strand(asio::any_io_executor(pool.get_executor()));
  std::unique_ptr<nats::reply_router> replies;  // made and used on the strand
  auto conn = blocking
                  .async_call(
                      [&] {
                        return std::make_shared<nats::connection>(strand, nats::connect_options(server.url()), [&] {
                          if (replies) replies->drain();
                        });
                      },
                      asio::use_future)
                  .get();
  // A stream, made with cnats's blocking management call off the strand.
  blocking
      .async_call(
          [&] {
            jsCtx* js = nullptr;
            nats::throw_if(natsConnection_JetStream(&js, conn->handle(), nullptr), "JetStream context");
            jsStreamConfig cfg;
            jsStreamConfig_Init(&cfg);
            cfg.Name = "ORDERS";
            const char* subjects[] = {"orders.>"};
            cfg.Subjects = subjects;
            cfg.SubjectsLen = 1;
            jsStreamInfo* info = nullptr;
            jsErrCode jerr{};
            const auto s = js_AddStream(&info, js, &cfg, nullptr, &jerr);
            jsStreamInfo_Destroy(info);
            jsCtx_Destroy(js);
            nats::throw_if(s, "adding the stream");
          },
          asio::use_future)
      .get();
  std::promise<void> ready;
  asio::post(strand, [&] {
    replies = std::make_unique<nats::reply_router>(*conn);
    ready.set_value();
  });
  ready.get_future().get();
  blocking
      .async_call([&] { nats::throw_if(natsConnection_FlushTimeout(conn->handle(), 2000), "flush"); }, asio::use_future)
      .get();
  nats::jetstream_publisher publisher(*conn, *replies);
  const auto timeout = std::chrono::milliseconds(5000);

  run(pool.get_executor(), [&]() -> asio::awaitable<void> {
    for (std::uint64_t i = 1; i <= 3; ++i) {
      auto ack =
          co_await publisher.async_publish(nats::outgoing_message("orders.created", "o-" + std::to_string(i)), timeout);
      BOOST_TEST(ack.stream == "ORDERS");
      BOOST_TEST(ack.sequence == i);
      BOOST_TEST(!ack.duplicate);
    }
    nats::outgoing_message once("orders.created", "same event");
    once.msg_id = "event-42";
    once.headers.push_back(header{"X-Event-Type", "Created"});
    const auto first = co_await publisher.async_publish(once, timeout);
    const auto again = co_await publisher.async_publish(once, timeout);
    BOOST_TEST(!first.duplicate);
    BOOST_TEST(again.duplicate);  // stored once
    BOOST_TEST(again.sequence == first.sequence);
    // No stream stores it: it ends at its deadline, and what comes after is not held up.
    const auto before = std::chrono::steady_clock::now();
    auto [ec, none] =
        co_await publisher.async_publish(nats::outgoing_message("nowhere.at.all", "x"), std::chrono::milliseconds(300),
                                         asio::as_tuple(asio::use_awaitable));
    BOOST_TEST((ec == nats::make_error_code(NATS_TIMEOUT)), ec.message());
    BOOST_TEST((std::chrono::steady_clock::now() - before < 2s));
    const auto after = co_await publisher.async_publish(nats::outgoing_message("orders.created", "next"), timeout);
    BOOST_TEST(after.sequence == first.sequence + 1);
  });

  // Many in flight at once, from outside the strand.
  constexpr int many = 5000;
  std::vector<std::future<nats::pub_ack>> acks;
  for (int i = 0; i < many; ++i)
    acks.push_back(publisher.async_publish(nats::outgoing_message("orders.created", std::to_string(i)), timeout,
                                           asio::use_future));
  std::set<std::uint64_t> sequences;
  for (auto& f : acks) sequences.insert(f.get().sequence);
  BOOST_TEST(sequences.size() == static_cast<std::size_t>(many));  // each stored, each its own sequence
  BOOST_TEST(*sequences.begin() == 6u);

  std::promise<void> gone;
  asio::post(strand, [&] {
    replies.reset();
    gone.set_value();
  });
  gone.get_future().get();
  conn->close();
  blocking.shutdown();
  pool.shutdown();
}

BOOST_AUTO_TEST_SUITE_END()
