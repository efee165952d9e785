// Dead letters without a transport: the retry plan's decisions and fitting a letter to a
// record size (the rules in dead_letter_plan.hpp and dead_letter.hpp).
#include <boost/test/unit_test.hpp>

#include <corobus/eventbus/topic.hpp>
#include "core/dead_letter.hpp"
#include "core/dead_letter_plan.hpp"

#include <limits>

using namespace corobus;
using namespace corobus::detail;
using namespace std::chrono_literals;

namespace {

dead_letter_policy test_policy() {
  dead_letter_policy p;
  p.initial_backoff = 100ms;
  p.max_backoff = 800ms;
  p.log_interval = 10s;
  return p;
}

message letter_with_value(std::size_t bytes) {
  message m;
  m.topic = "orders.dlq";
  m.key = "order-1";
  m.payload.assign(bytes, 'x');
  m.headers = {{std::string(dead_letter_headers::origin_topic), "orders"}, {"X-Trace", "t-1"}};
  return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dead_letters, *boost::unit_test::label("unit"))

BOOST_AUTO_TEST_CASE(transient_failures_back_off_doubling_then_the_message_is_held) {
  const auto policy = test_policy();
  dead_letter_plan plan(policy, 1000);
  const auto t0 = dead_letter_plan::clock::now();
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 3; ++i) {
    const auto s = plan.failed(write_failure::transient, t0);
    BOOST_TEST(!s.now_held);
    BOOST_TEST(s.log);
    waits.push_back(s.wait);
  }
  BOOST_TEST((waits == std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms}));
  BOOST_TEST(!plan.held());                                  // in flight meanwhile
  const auto s = plan.failed(write_failure::transient, t0);  // the backoff reached its maximum
  BOOST_TEST(s.now_held);
  BOOST_TEST(s.log);
  BOOST_TEST((s.wait == 800ms));
  BOOST_TEST(plan.held());
  BOOST_TEST(plan.failures() == 4u);
}

BOOST_AUTO_TEST_CASE(a_refusal_holds_at_once_and_a_held_message_is_logged_at_a_bounded_rate) {
  const auto policy = test_policy();
  dead_letter_plan plan(policy, 1000);
  const auto t0 = dead_letter_plan::clock::now();
  const auto first = plan.failed(write_failure::refused, t0);
  BOOST_TEST(first.now_held);
  BOOST_TEST(first.log);
  BOOST_TEST((first.wait == 800ms));
  // Tried every max_backoff; said again only once log_interval passed.
  int logged = 0;
  for (int i = 1; i <= 30; ++i) {
    const auto s = plan.failed(write_failure::refused, t0 + i * 800ms);
    BOOST_TEST(!s.now_held);
    BOOST_TEST(!s.give_up);  // give_up_after is unset: held until written
    BOOST_TEST((s.wait == 800ms));
    logged += s.log;
  }
  BOOST_TEST(logged == 2);  // at 10.4 s and 20.8 s of 24 s
}

BOOST_AUTO_TEST_CASE(a_record_too_large_is_cut_in_half_each_time_until_it_fits_then_refusal_holds) {
  const auto policy = test_policy();
  dead_letter_plan plan(policy, 1000);
  const auto now = dead_letter_plan::clock::now();
  for (std::size_t expected : {500u, 250u, 125u}) {
    const auto s = plan.failed(write_failure::too_large, now);
    BOOST_TEST((s.wait == 0ms));  // nothing to wait for
    BOOST_TEST(!s.now_held);
    BOOST_TEST(plan.value_budget() == expected);
  }
  dead_letter_plan empty(policy, 0);  // even an empty value did not fit: nothing left to cut
  BOOST_TEST(empty.failed(write_failure::too_large, now).now_held);
}

BOOST_AUTO_TEST_CASE(give_up_after_ends_a_hold_once_it_lasted_that_long) {
  auto policy = test_policy();
  policy.give_up_after = 5s;
  dead_letter_plan plan(policy, 1000);
  const auto t0 = dead_letter_plan::clock::now();
  BOOST_TEST(plan.failed(write_failure::refused, t0).now_held);
  BOOST_TEST(!plan.failed(write_failure::refused, t0 + 4s).give_up);
  const auto s = plan.failed(write_failure::refused, t0 + 5s);
  BOOST_TEST(s.give_up);
  BOOST_TEST(s.log);
}

BOOST_AUTO_TEST_CASE(the_value_budget_leaves_room_for_key_headers_and_the_truncation_headers) {
  const auto letter = letter_with_value(10);
  BOOST_TEST(value_budget(letter, std::nullopt) == std::numeric_limits<std::size_t>::max());
  const auto budget = value_budget(letter, 1'000'000);
  std::size_t fixed = letter.key.size();
  for (const auto& h : letter.headers) fixed += h.name.size() + h.value.size();
  BOOST_TEST(budget < 1'000'000 - fixed);
  BOOST_TEST(budget > 1'000'000 - fixed - 400);  // not wasteful either
  BOOST_TEST(value_budget(letter, 50) == 0u);    // the headers alone do not fit
}

BOOST_AUTO_TEST_CASE(a_letter_that_fits_is_unchanged_and_one_that_does_not_says_what_was_cut) {
  const auto small = letter_with_value(100);
  const auto same = fit_dead_letter(small, 100);
  BOOST_TEST(same.payload == small.payload);
  BOOST_TEST((same.headers == small.headers));

  const auto big = letter_with_value(1'000'000);
  const auto cut = fit_dead_letter(big, 4096);
  BOOST_TEST(cut.payload.size() == 4096u);
  BOOST_TEST(cut.payload == big.payload.substr(0, 4096));
  BOOST_TEST(cut.key == big.key);
  BOOST_TEST_REQUIRE(find_header(cut.headers, dead_letter_headers::truncated) != nullptr);
  BOOST_TEST(*find_header(cut.headers, dead_letter_headers::truncated) == "value");
  BOOST_TEST(*find_header(cut.headers, dead_letter_headers::original_size) == "1000000");
  BOOST_TEST(*find_header(cut.headers, "X-Trace") == "t-1");  // the original headers stay
  BOOST_TEST(*find_header(cut.headers, dead_letter_headers::origin_topic) == "orders");
}

BOOST_AUTO_TEST_SUITE_END()
