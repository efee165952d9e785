#pragma once
// A member's partition leases of one NATS group, as pure state: which partitions it owns, in
// which phase, on which revision of their lease, until when (the fence), and what a look
// decides from the bucket's answers: what to abandon, revoke, release and take. Events in,
// actions out; no I/O and no clock reads. nats_partitioned_group carries the actions out
// against the key-value bucket (see there for the protocol).
//
// The phases of an owned partition: waiting (taken; one taken from an expired lease first
// settles, so what its last owner held comes back before anything newer), running (pulling),
// revoking (draining for the member that takes it next). It leaves the state when its revoke
// finished and its lease is released, or when it is abandoned: its renewal was refused, or
// the fence passed (then the member stops handling and acknowledging at once, and the next
// owner takes the lease once it expired).
#include "backends/nats/partition_assignment.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corobus::detail {

class lease_state {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  enum class phase { waiting, running, revoking };

  // One lease held: the revision of its entry, and the term (which taking of it) it belongs to.
  struct lease {
    int partition = -1;
    std::uint64_t revision = 0;
    std::uint64_t term = 0;
  };

  // What a look's round with the bucket found (see look_started()).
  struct round {
    std::vector<std::string> members;                   // every member key but this one's, any order
    std::vector<std::pair<lease, time_point>> renewed;  // the new revision, and when that renewal was sent
    std::vector<lease> lost;                            // refused: another member holds it now
  };

  struct plan {
    std::vector<std::pair<int, std::string_view>> abandon;  // stop at once, no release; and why
    std::vector<int> revoke;                                // drain, give back, then revoke_finished()
    std::vector<lease> release;                             // write the released mark on this revision
    std::vector<int> take;                                  // try to take, in this order
    std::vector<std::pair<int, time_point>> fences;         // moved on: the partitions' ack windows follow
  };

  // How to take a lease, given what its entry holds now.
  enum class take_by { create, update, leave };
  struct take_decision {
    take_by how = take_by::leave;
    bool clean = false;  // released by its last owner: nothing to settle
  };

  static constexpr std::string_view released_mark = "-";

  lease_state(std::string member, int partitions, lease_timing timing);

  const std::string& member() const noexcept { return member_; }

  // A look begins: whether this member writes its key (it has subscriptions here), erases
  // it, or neither; the leases to renew (compare-and-set on their revision).
  enum class membership { write, erase, none };
  membership look_started(bool here);
  std::vector<lease> to_renew() const;  // every lease held, revoking ones too
  // Its answers (none: the round failed) at `now`. `here`: as given to look_started().
  plan looked(const std::optional<round>& answers, bool here, time_point now);

  // Taking a partition the plan named: how, from its entry's value (none: no entry). Reads
  // only the member's name: callable from the thread that read the entry.
  take_decision take(const std::optional<std::string>& value) const;
  // Taken at `revision`, the write sent at `sent`: the lease held, whose term names this
  // ownership in the calls below (a partition abandoned and taken again has a new one).
  lease taken(int partition, std::uint64_t revision, time_point sent);
  time_point fence_of(int partition) const { return owned_.at(partition).fence; }

  // The partition's run begins, unless it is revoked or gone meanwhile (false).
  bool start(const lease& l);
  // A revoke drained and gave back: the lease to release now, or none (a look's round is
  // under way, whose renewal moves the revision on: that look's plan releases it).
  std::optional<lease> revoke_finished(const lease& l);

  // The phase of that ownership; none once it ended.
  std::optional<phase> phase_of(const lease& l) const;
  bool registered() const noexcept { return registered_; }  // the member key is written
  bool owns(int partition) const { return owned_.contains(partition); }
  // Whether the partition's fence passed at `now` (latched: a renewal that lands late does
  // not let it go on). False for a partition not owned.
  bool fenced(int partition, time_point now);
  std::vector<lease> leases() const { return to_renew(); }  // close() releases them

 private:
  struct owned {
    lease held;
    phase ph = phase::waiting;
    time_point fence;
    bool fence_passed = false;
  };

  void abandon(plan& p, int partition, std::string_view why);
  owned* find(const lease& l);  // that ownership, if it still is

  const std::string member_;
  const int partitions_;
  const lease_timing timing_;
  std::map<int, owned> owned_;
  std::vector<int> released_after_round_;  // revoke_finished() during a round
  std::uint64_t terms_ = 0;
  bool registered_ = false;  // the member key was written
  bool in_round_ = false;
};

}  // namespace corobus::detail
