"""The connector SDK's exceptions, under :class:`hub.errors.HubError`."""

from __future__ import annotations

from hub.errors import HubError

__all__ = ["ConnectorError", "SourceUnavailableError"]


class ConnectorError(HubError):
    """A connector cannot run: a bug, a bad setting or a broken contract (fails the run)."""


class SourceUnavailableError(ConnectorError):
    """The source (or Kafka) cannot be reached or answers with a passing fault (5xx, a
    timeout, a gateway that does not know the API). The runtime retries with backoff and
    never treats it as data: no record is emitted, deleted or checkpointed for it."""
