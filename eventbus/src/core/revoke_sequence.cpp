#include "core/revoke_sequence.hpp"

namespace corobus::detail {

revoke_sequence::step revoke_sequence::decide(std::size_t running, clock::time_point now,
                                              bool cancelled) const noexcept {
  step s;
  if (running == 0) return s;  // finish: nothing to wait for
  if (cancelled || now >= deadline_) {
    s.interrupt = true;
    return s;
  }
  s.then = step::next::wait;
  s.wait_until = deadline_;
  return s;
}

}  // namespace corobus::detail
