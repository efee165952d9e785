#pragma once
// The driver of the model tests: random sequences of events applied to a decision's pure
// state and a model of the world around it, with the invariants checked after every event.
//
// A Model has `std::string step(std::mt19937&)` (applies one random event, returns what it
// was, for the trace) and `std::string broken() const` (the first invariant that does not
// hold, or empty). A failure names the seed, so `run_model<M>(seed, 1, n)` replays it.
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <deque>
#include <random>
#include <string>

namespace corobus::test {

// Runs `seeds` sequences of `events` events each, from `first_seed` on, and says how many
// events it applied.
template <class Model>
void run_model(std::uint32_t first_seed, std::uint32_t seeds, std::size_t events) {
  std::size_t applied = 0;
  for (std::uint32_t seed = first_seed; seed < first_seed + seeds; ++seed) {
    std::mt19937 random(seed);
    Model model;
    std::deque<std::string> trace;  // the last events, for the failure's message
    for (std::size_t i = 0; i < events; ++i) {
      trace.push_back(model.step(random));
      if (trace.size() > 12) trace.pop_front();
      ++applied;
      if (const auto broken = model.broken(); !broken.empty()) {
        std::string last;
        for (const auto& e : trace) last += "\n  " + e;
        BOOST_FAIL(fmt::format("seed {}, event {}: {}; the last events:{}", seed, i + 1, broken, last));
      }
    }
  }
  BOOST_TEST(applied == seeds * events);  // every event applied, every invariant held after each
  BOOST_TEST_MESSAGE(applied << " events in " << seeds << " sequences");
}

}  // namespace corobus::test
