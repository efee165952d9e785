// cnats on the io_context: a connection whose socket I/O runs on a strand, with synchronous
// subscriptions drained there, against a real nats-server.
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <corobus/awaitables/nats/connection.hpp>
#include <corobus/awaitables/nats/embedded_cluster.hpp>
#include <corobus/awaitables/nats/embedded_server.hpp>
#include <corobus/awaitables/nats/error.hpp>
#include <corobus/awaitables/nats/jetstream_publisher.hpp>
#include <corobus/awaitables/nats/kv_bucket.hpp>
#include <corobus/awaitables/nats/pull_consumer.hpp>
#include <corobus/awaitables/nats/reply_router.hpp>
#include <corobus/runtime/blocking_pool.hpp>
#include <corobus/runtime/io_pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <mutex>
#include <optional>
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
  }  // the strand, then the pool (which destroys its io_context: nothing of it may outlive that)
  // cnats's library threads end with the last library_use (nats_CloseAndWait).
  BOOST_TEST(settled_thread_count(threads_before) == threads_before);
  BOOST_TEST(descriptor_count() == fds_before);
}

// cnats keeps a thread's last error text through later successful calls: an error of another
// status carries its own words only, never that text.
BOOST_AUTO_TEST_CASE(an_error_never_carries_the_text_of_an_earlier_one) {
  const auto what_of = [](natsStatus s, std::string_view doing) {
    try {
      nats::throw_if(s, doing);
    } catch (const boost::system::system_error& e) {
      BOOST_TEST((e.code() == nats::make_error_code(s)));
      return std::string(e.what());
    }
    BOOST_FAIL("throw_if did not throw");
    return std::string();
  };
  const auto invalid = what_of(natsOptions_SetURL(nullptr, "x"), "setting the URL");  // its text stays behind
  BOOST_TEST(invalid.find("(opts.c") != std::string::npos, invalid);                  // cnats's words for it
  const auto timeout = what_of(NATS_TIMEOUT, "fetching");
  BOOST_TEST(timeout.find("opts.c") == std::string::npos, timeout);
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
}

// A connection to its own server with a reply router, and JetStream management off the strand.
struct jetstream_fixture {
  std::optional<nats::embedded_server> server;
  io_pool pool{2};
  blocking_pool blocking{1};
  asio::strand<asio::any_io_executor> strand = asio::make_strand(asio::any_io_executor(pool.get_executor()));
  std::unique_ptr<nats::reply_router> replies;  // made and used on the strand
  std::shared_ptr<nats::connection> conn;

  jetstream_fixture() : jetstream_fixture(nats::connect_options()) {}
  // On `options.url` (its own server when empty).
  explicit jetstream_fixture(nats::connect_options options) {
    if (options.url.empty()) options.url = server.emplace().url();
    conn = blocking
               .async_call(
                   [&] {
                     return std::make_shared<nats::connection>(strand, options, [this] {
                       if (replies) replies->drain();
                     });
                   },
                   asio::use_future)
               .get();
    on_strand([&] { replies = std::make_unique<nats::reply_router>(*conn); });
    flush();
  }
  ~jetstream_fixture() {
    on_strand([&] { replies.reset(); });
    conn->close();
    blocking.shutdown();
  }  // then the members: the strand before the pool, which destroys its io_context
  template <class F>
  void on_strand(F f) {
    std::promise<void> done;
    asio::post(strand, [&] {
      f();
      done.set_value();
    });
    done.get_future().get();
  }
  // The server has what was sent before (blocking, off the strand).
  void flush() {
    blocking
        .async_call([&] { nats::throw_if(natsConnection_FlushTimeout(conn->handle(), 2000), "flush"); },
                    asio::use_future)
        .get();
  }
  // A blocking JetStream management call, off the strand while it runs.
  template <class F>
  void manage(F f) {
    blocking
        .async_call(
            [&] {
              jsCtx* js = nullptr;
              jsOptions o;
              jsOptions_Init(&o);
              o.Wait = 2000;  // ms, for each management request
              nats::throw_if(natsConnection_JetStream(&js, conn->handle(), &o), "JetStream context");
              jsErrCode jerr{};
              const auto s = f(js, jerr);
              jsCtx_Destroy(js);
              nats::throw_if(s, "JetStream management");
            },
            asio::use_future)
        .get();
  }
  void add_stream(const char* name, const char* subject, int replicas = 1) {
    manage([&](jsCtx* js, jsErrCode& jerr) {
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      cfg.Name = name;
      cfg.Replicas = replicas;
      const char* subjects[] = {subject};
      cfg.Subjects = subjects;
      cfg.SubjectsLen = 1;
      jsStreamInfo* info = nullptr;
      const auto s = js_AddStream(&info, js, &cfg, nullptr, &jerr);
      jsStreamInfo_Destroy(info);
      return s;
    });
  }
};

BOOST_AUTO_TEST_CASE(jetstream_publishes_complete_on_their_pub_acks_and_a_repeated_id_is_stored_once) {
  jetstream_fixture js;
  js.add_stream("ORDERS", "orders.>");
  auto& pool = js.pool;
  nats::jetstream_publisher publisher(*js.conn, *js.replies);
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
}

BOOST_AUTO_TEST_CASE(key_value_leases_are_compare_and_set_and_listings_show_only_live_keys) {
  jetstream_fixture js;
  // Every call blocks on replies the strand reads: off it, as the group's coordinator calls them.
  js.blocking
      .async_call(
          [&] {
            nats::kv_bucket kv(*js.conn, {"leases", std::chrono::milliseconds(3000), 1},
                               std::chrono::milliseconds(5000));
            const auto first = kv.create("orders.p.0", "member-a");
            BOOST_TEST_REQUIRE(first.has_value());
            BOOST_TEST(!kv.create("orders.p.0", "member-b"));              // taken
            BOOST_TEST(!kv.update("orders.p.0", "member-b", *first + 7));  // not its revision
            const auto renewed = kv.update("orders.p.0", "member-a", *first);
            BOOST_TEST_REQUIRE(renewed.has_value());
            BOOST_TEST(kv.get("orders.p.0")->value == "member-a");
            BOOST_TEST(kv.get("orders.p.0")->revision == *renewed);
            kv.put("orders.m.a", "");
            kv.put("orders.m.b", "");
            kv.put("other.m.c", "");
            kv.erase("orders.m.b");  // its delete marker stays in the stream: not listed
            BOOST_TEST(kv.keys("orders.m.") == std::vector<std::string>{"orders.m.a"});
            BOOST_TEST(kv.keys("nothing.").empty());
            BOOST_TEST(!kv.get("orders.m.b"));
            // Another TTL for the same bucket: refused, naming both.
            try {
              nats::kv_bucket other(*js.conn, {"leases", std::chrono::milliseconds(5000), 1},
                                    std::chrono::milliseconds(5000));
              BOOST_FAIL("opened with another TTL");
            } catch (const boost::system::system_error& e) {
              BOOST_TEST((e.code() == errc::invalid_config), e.what());
              BOOST_TEST(std::string(e.what()).find("3000 ms") != std::string::npos, e.what());
            }
          },
          asio::use_future)
      .get();
}

BOOST_AUTO_TEST_CASE(a_pull_consumer_fetches_in_batches_in_order_and_acked_messages_are_not_redelivered) {
  jetstream_fixture js;
  js.add_stream("JOBS", "jobs.>");
  js.manage([&](jsCtx* ctx, jsErrCode& jerr) {
    jsConsumerConfig cfg;
    jsConsumerConfig_Init(&cfg);
    cfg.Durable = "workers";
    cfg.AckPolicy = js_AckExplicit;
    cfg.AckWait = std::chrono::nanoseconds(2s).count();
    jsConsumerInfo* info = nullptr;
    const auto s = js_AddConsumer(&info, ctx, "JOBS", &cfg, nullptr, &jerr);
    jsConsumerInfo_Destroy(info);
    return s;
  });
  nats::jetstream_publisher publisher(*js.conn, *js.replies);
  nats::pull_consumer consumer(*js.conn, *js.replies, "JOBS", "workers");
  constexpr int total = 100;
  std::vector<std::future<nats::pub_ack>> acks;
  for (int i = 0; i < total; ++i)
    acks.push_back(
        publisher.async_publish(nats::outgoing_message("jobs.run", std::to_string(i)), 5s, asio::use_future));
  for (auto& a : acks) a.get();

  std::vector<std::string> got;
  std::size_t batches = 0;
  while (got.size() < static_cast<std::size_t>(total) && batches < 20) {
    auto batch = consumer.async_fetch(30, 1000ms, asio::use_future).get();
    ++batches;
    BOOST_TEST_REQUIRE(batch.size() <= 30u);
    for (auto& m : batch) {
      got.emplace_back(m.payload());
      const auto metadata = m.metadata();  // from the reply subject
      BOOST_TEST_REQUIRE(metadata.has_value());
      BOOST_TEST(metadata->stream == "JOBS");
      BOOST_TEST(metadata->consumer == "workers");
      BOOST_TEST(metadata->stream_sequence == got.size());
      BOOST_TEST(metadata->delivered == 1u);
      BOOST_TEST(!m.acknowledge(*js.conn, nats::ack_kind::ack));
    }
  }
  BOOST_TEST_REQUIRE(got.size() == static_cast<std::size_t>(total));
  for (int i = 0; i < total; ++i) BOOST_TEST_REQUIRE(got[i] == std::to_string(i));  // in order
  BOOST_TEST(batches >= 4u);                                                        // 30 at most each
  js.flush();                                                                       // the acks reached the server
  // Nothing left, nothing redelivered: the next fetch ends empty at its expiry (the 408).
  const auto before = std::chrono::steady_clock::now();
  auto none = consumer.async_fetch(10, 300ms, asio::use_future).get();
  BOOST_TEST(none.empty());
  BOOST_TEST((std::chrono::steady_clock::now() - before < 1200ms));
  // A nak'ed message comes back, once more.
  publisher.async_publish(nats::outgoing_message("jobs.run", "again"), 5s, asio::use_future).get();
  auto first = consumer.async_fetch(1, 1000ms, asio::use_future).get();
  BOOST_TEST_REQUIRE(first.size() == 1u);
  BOOST_TEST(!first.front().acknowledge(*js.conn, nats::ack_kind::nak));
  auto second = consumer.async_fetch(1, 1000ms, asio::use_future).get();
  BOOST_TEST_REQUIRE(second.size() == 1u);
  BOOST_TEST(second.front().payload() == "again");
  BOOST_TEST(second.front().metadata()->delivered == 2u);  // the nak's redelivery
  BOOST_TEST(!second.front().acknowledge(*js.conn, nats::ack_kind::ack));
  js.flush();
  // Cancelled through its slot, a fetch waiting on an empty stream ends at once.
  asio::cancellation_signal cancel;
  std::promise<boost::system::error_code> ended;
  const auto waiting_since = std::chrono::steady_clock::now();
  consumer.async_fetch(10, 10s, asio::bind_cancellation_slot(cancel.slot(), [&](boost::system::error_code ec, auto) {
                         ended.set_value(ec);
                       }));
  js.on_strand([&] { cancel.emit(asio::cancellation_type::terminal); });  // the slot's own thread
  BOOST_TEST((ended.get_future().get() == asio::error::operation_aborted));
  BOOST_TEST((std::chrono::steady_clock::now() - waiting_since < 2s));
}

BOOST_AUTO_TEST_CASE(a_connection_reconnects_to_its_restarted_server_and_says_so_on_its_strand) {
  nats::embedded_server server;
  io_pool pool(2);
  blocking_pool blocking(1);
  auto strand = asio::make_strand(asio::any_io_executor(pool.get_executor()));
  std::atomic<int> reconnected_on_strand{0};
  drained_subscription inbox;
  nats::connect_options options(server.url());
  options.reconnect_wait = std::chrono::milliseconds(50);
  auto conn = blocking
                  .async_call(
                      [&] {
                        return std::make_shared<nats::connection>(
                            strand, options, [&inbox] { inbox.drain(); },
                            [&] { reconnected_on_strand += strand.running_in_this_thread() ? 1 : 100; });
                      },
                      asio::use_future)
                  .get();
  BOOST_TEST(conn->state().connected);
  std::promise<void> subscribed;
  asio::post(strand, [&] {
    nats::throw_if(natsConnection_SubscribeSync(&inbox.sub, conn->handle(), "pings"), "subscribe");
    subscribed.set_value();
  });
  subscribed.get_future().get();

  server.kill();
  BOOST_TEST_REQUIRE(eventually([&] { return !conn->state().connected; }, 10s));
  server.restart();  // same port
  BOOST_TEST_REQUIRE(eventually([&] { return conn->state().connected && reconnected_on_strand == 1; }, 20s));
  const auto state = conn->state();
  BOOST_TEST(state.reconnects == 1u);
  BOOST_TEST(state.disconnects >= 1u);
  // The subscription came back with the connection (cnats resends it after the new attach).
  blocking
      .async_call([&] { nats::throw_if(natsConnection_FlushTimeout(conn->handle(), 2000), "flush"); }, asio::use_future)
      .get();
  asio::post(strand, [&] { natsConnection_PublishString(conn->handle(), "pings", "after"); });
  BOOST_TEST(eventually([&] { return inbox.size() == 1; }, 10s));
  std::promise<void> unsubscribed;
  asio::post(strand, [&] {
    natsSubscription_Destroy(std::exchange(inbox.sub, nullptr));
    unsubscribed.set_value();
  });
  unsubscribed.get_future().get();
  conn->close();
  BOOST_TEST(!conn->state().connected);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(nats_cluster, *boost::unit_test::label("nats") * boost::unit_test::label("fault") *
                                        boost::unit_test::label("cluster"))
using nats_awaitables::jetstream_fixture;

BOOST_AUTO_TEST_CASE(an_r3_stream_on_a_three_node_cluster_keeps_every_publish_when_the_connected_node_is_killed) {
  nats::embedded_cluster cluster(3);
  nats::connect_options options(cluster.urls());
  options.reconnect_wait = std::chrono::milliseconds(50);
  jetstream_fixture js(options);
  // The cluster elects its JetStream meta leader about a second after the nodes start.
  BOOST_TEST_REQUIRE(eventually(
      [&] {
        try {
          js.add_stream("EVENTS", "events.>", 3);
          return true;
        } catch (const boost::system::system_error&) {
          return false;
        }
      },
      30s));
  nats::jetstream_publisher publisher(*js.conn, *js.replies);
  // Each publish is tried again with the same message id until it is acknowledged: the stream
  // stores it once, whichever try got through.
  const auto publish = [&](int i) {
    nats::outgoing_message m("events.happened", std::to_string(i));
    m.msg_id = "event-" + std::to_string(i);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        return publisher.async_publish(m, 1000ms, asio::use_future).get();
      } catch (const boost::system::system_error&) {  // not acknowledged in time: again
      }
    }
    throw std::runtime_error("publish " + std::to_string(i) + " was never acknowledged");
  };
  for (int i = 0; i < 100; ++i) publish(i);
  char url[256] = {};
  natsConnection_GetConnectedUrl(js.conn->handle(), url, sizeof url);
  int connected = -1;
  for (int n = 0; n < cluster.size(); ++n)
    if (std::string(url).find(":" + std::to_string(cluster.node(n).port())) != std::string::npos) connected = n;
  BOOST_TEST_REQUIRE(connected >= 0, url);
  cluster.node(connected).kill();  // the node this connection uses, mid-stream
  std::set<std::uint64_t> sequences;
  for (int i = 100; i < 200; ++i) sequences.insert(publish(i).sequence);  // over the reconnect
  BOOST_TEST(sequences.size() == 100u);
  BOOST_TEST(*sequences.begin() == 101u);  // nothing lost, nothing stored twice
  BOOST_TEST(*sequences.rbegin() == 200u);
  natsConnection_GetConnectedUrl(js.conn->handle(), url, sizeof url);
  BOOST_TEST(std::string(url).find(":" + std::to_string(cluster.node(connected).port())) == std::string::npos, url);
}

BOOST_AUTO_TEST_SUITE_END()
