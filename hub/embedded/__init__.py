"""Real services run locally from Maven Central jars: the Kafka broker and the schema registry.

The demo, the tests and the benchmarks all start them through these launchers.
"""

from hub.embedded.kafka import KAFKA_VERSION, BrokerInfo, LocalKafka

__all__ = ["KAFKA_VERSION", "BrokerInfo", "LocalKafka"]
