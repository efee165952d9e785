// `./dev kafka`: a real Apache Kafka broker on loopback (tests/kafka_broker.hpp) until Ctrl-C,
// its bootstrap address printed first, for running the examples against it with --config.
#include "kafka_broker.hpp"

#include <csignal>
#include <cstdio>
#include <exception>

int main() {
  // Blocked before the broker's threads start, then waited for: Ctrl-C and kill end it here,
  // and the destructor stops the broker and removes its log directory.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  try {
    corobus::test::kafka_broker broker;
    std::printf("Apache Kafka on %s (Ctrl-C stops it)\n", broker.bootstrap().c_str());
    std::fflush(stdout);
    int signal = 0;
    sigwait(&stop, &signal);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
