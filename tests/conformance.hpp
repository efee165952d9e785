#pragma once
// The conformance suite: behaviour every backend must show, written once as templates over a
// Target (which backend, and the few facts that differ). conformance_tests.cpp registers the
// cases for each backend with COROBUS_CONFORMANCE_SUITE, one line per backend.
//
// A Target has:
//   static config make_config();          a bus on that backend, with quick retries
//   static constexpr bool keeps_messages; true when a topic keeps what nobody subscribed to
//                                         (Kafka), false when such a message ends as unrouted
//   static constexpr bool own_threads_only; true when the bus starts no threads but its io
//                                         threads (a client library starts its own otherwise)
//   struct each_case;                     made before each case, destroyed after it (a shared
//                                         broker cleared of what earlier cases left)
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <corobus/corobus.hpp>

namespace corobus::test {

// Every message handed to a subscription, whatever became of it since (so: not unrouted ones).
inline std::uint64_t handed_over(const metrics_snapshot& m) {
  return m.delivered + m.dead_lettered + m.held + m.abandoned + m.rebalanced + m.lost +
         static_cast<std::uint64_t>(m.in_flight);
}

// Waits until `b` has handed `n` messages to its subscriptions (a Kafka group fetches them a
// few seconds after it subscribed; the in-process bus at once).
inline bool handed_over_eventually(bus& b, std::uint64_t n) {
  return eventually([&] { return handed_over(b.metrics()) >= n; }, 30s);
}

}  // namespace corobus::test

// The cases, each `template <class Target> void name();` in namespace corobus::conformance.
#define COROBUS_CONFORMANCE_CASES(X)                                             \
  X(publish_and_subscribe_raw_messages)                                          \
  X(subscriptions_are_independent_groups_and_a_shared_group_splits_the_work)     \
  X(envelopes_arrive_whole)                                                      \
  X(raw_subscribers_see_envelope_json_and_metadata_headers)                      \
  X(raw_json_published_to_an_envelope_subscriber_is_decoded)                     \
  X(envelopes_keep_their_order_per_aggregate_under_handlers_that_suspend)        \
  X(envelopes_written_without_their_key_or_with_another_keep_their_order)        \
  X(batches_of_envelopes_keep_their_order_and_each_gets_its_result)              \
  X(unordered_subscriptions_run_handlers_concurrently_up_to_the_limit)           \
  X(a_retried_message_holds_back_the_later_messages_of_its_key)                  \
  X(a_failing_handler_is_retried_then_dead_lettered_with_its_error_and_origin)   \
  X(a_poison_envelope_goes_to_the_dead_letter_topic_at_once)                     \
  X(a_stream_is_a_pull_loop_with_ack)                                            \
  X(a_delivery_stays_readable_after_ack)                                         \
  X(a_nacked_or_dropped_delivery_comes_back_then_goes_to_the_dead_letter_topic)  \
  X(a_dropped_stream_ends_its_subscription_and_never_holds_publishers_back)      \
  X(a_stream_ends_when_the_bus_closes)                                           \
  X(a_message_a_full_handler_passes_on_reaches_a_stream_of_its_group_whole)    \
  X(close_gives_a_stream_reader_the_grace_period_to_take_and_ack_what_is_queued) \
  X(unsubscribe_stops_new_messages_and_finishes_what_was_accepted)               \
  X(close_lets_accepted_work_finish_within_the_grace_period)                     \
  X(close_cancels_handlers_that_never_finish_after_the_grace_period)             \
  X(concurrent_close_callers_all_wait_for_the_same_end)                          \
  X(close_from_one_of_the_bus_threads_is_refused)                                \
  X(destroying_an_open_bus_closes_it)                                            \
  X(publish_subscribe_and_stream_after_close_fail_with_closed)                   \
  X(an_invalid_envelope_is_rejected_at_publish_and_nothing_is_sent)              \
  X(invalid_topic_and_group_names_are_rejected)                                  \
  X(the_longest_topic_names_work_and_none_collide)                               \
  X(every_publish_is_accounted_for_once_the_bus_closed)                          \
  X(threads_and_descriptors_return_to_their_values_before_the_bus)               \
  X(fifty_open_close_cycles_leave_no_thread_descriptor_or_task_behind)           \
  X(every_operation_completes_through_futures_callbacks_deferred_and_as_tuple)   \
  X(a_cancelled_next_takes_nothing_and_the_message_goes_to_the_next_call)

#define COROBUS_CONFORMANCE_CASE(name) \
  BOOST_AUTO_TEST_CASE(name) { ::corobus::conformance::name<target>(); }

// Registers every case as a test suite `suite` over `Target`, labelled `backend_label` and
// "conformance".
#define COROBUS_CONFORMANCE_SUITE(suite, Target, backend_label)                                              \
  BOOST_FIXTURE_TEST_SUITE(suite, Target::each_case,                                                         \
                           *boost::unit_test::label(backend_label) * boost::unit_test::label("conformance")) \
  using target = Target;                                                                                     \
  COROBUS_CONFORMANCE_CASES(COROBUS_CONFORMANCE_CASE)                                                        \
  BOOST_AUTO_TEST_SUITE_END()
