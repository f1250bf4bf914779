"""Avro on the wire: the schema catalogue, framing, the registry client and the codec."""
