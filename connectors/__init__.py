"""Connectors that fetch source systems and map their records to the hub's Avro records."""
