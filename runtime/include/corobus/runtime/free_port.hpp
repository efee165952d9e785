#pragma once
// A TCP port free on 127.0.0.1 now: bound to port 0, read, released, for a server child that
// must be told its ports (a nats-server cluster's routes, a Kafka broker's listeners). Another
// process may take it before the server binds it; the server then fails to start, clearly.
namespace corobus {

int free_loopback_port();

}  // namespace corobus
