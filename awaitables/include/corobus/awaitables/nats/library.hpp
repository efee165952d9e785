#pragma once
// cnats's library-wide state: nats_Open starts its timer, async-callback and GC threads, and
// only nats_CloseAndWait joins them. Every user of this layer holds a library_use; the first
// opens the library and the last one out closes it and waits for those threads, so that a
// process whose buses are all closed has none of cnats's threads left. An application that
// uses cnats itself as well should hold a library_use for as long as it does (nats_Open and
// nats_Close must not run concurrently, and cnats counts no users of its own).
namespace corobus::nats {

class library_use {
 public:
  library_use();   // nats_Open on the first; throws errc::broker_error if it fails
  ~library_use();  // nats_CloseAndWait on the last (up to 5 s)

  library_use(const library_use&) = delete;
  library_use& operator=(const library_use&) = delete;
};

}  // namespace corobus::nats
