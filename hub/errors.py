"""The hub's exceptions, all rooted at :class:`HubError`.

Library exceptions (fastavro, aiohttp, aiokafka, pydantic) are caught at the
boundary and re-raised as one of these, with a message a system administrator can
act on.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "EmbeddedServiceError",
    "HubError",
    "MappingError",
    "RegistryError",
    "SchemaCompatibilityError",
    "SchemaError",
    "WireFormatError",
]


class HubError(Exception):
    """The root of every error the hub raises on purpose."""


class ConfigurationError(HubError):
    """Settings are missing or invalid."""


class EmbeddedServiceError(HubError):
    """A locally launched service (Kafka broker, schema registry) cannot start or stop."""


class SchemaError(HubError):
    """An Avro schema cannot be loaded, parsed or found."""


class SchemaCompatibilityError(SchemaError):
    """A new schema cannot read data written with an older one."""


class WireFormatError(HubError):
    """Bytes on a topic are not a valid record: wrong framing, truncated or wrong type."""


class RegistryError(HubError):
    """The schema registry refused a request or could not be reached."""


class MappingError(HubError):
    """A source system's record cannot be mapped to the hub's canonical record."""
