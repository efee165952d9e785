#pragma once
// What a backend does about the topics (Kafka topics, JetStream streams) it publishes or
// subscribes to, and their dead-letter topics. One enum for the bus's config and the clients.
namespace corobus {

enum class topic_strategy {
  create_if_missing,  // create what is missing; existing ones are left as they are
  validate_only,      // fail with errc::invalid_config when one is missing
  skip,               // do nothing: assume they exist (or that the brokers auto-create them)
};

}  // namespace corobus
