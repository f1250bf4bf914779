"""Benchmarks of the hub against a raw aiokafka passthrough on the same broker (make bench)."""
