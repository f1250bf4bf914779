"""structlog configuration: JSON lines, with national IDs and passports redacted.

Call :func:`configure_logging` once, at the edge (the CLI). Every log event goes
through :func:`redact_sensitive`, which masks values under sensitive keys and any
eleven-digit run in any string, however deeply nested.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

from hub.privacy import redact_national_ids

__all__ = ["SENSITIVE_KEYS", "configure_logging", "redact_sensitive"]

# Keys whose values are identity numbers in the source systems' own formats.
SENSITIVE_KEYS = frozenset(
    {
        "fnr",
        "fodselsnummer",
        "national_id",
        "nin",
        "noredupersonnin",
        "no_birthno",
        "passport",
        "passport_number",
        "passnr",
        "idnr",
        "norwegian_national_id_number",
    }
)


def _redact_scalar(value: Any) -> Any:
    if isinstance(value, str):
        return redact_national_ids(value)
    if isinstance(value, BaseException):
        return redact_national_ids(repr(value))
    if isinstance(value, int) and not isinstance(value, bool) and 10**10 <= abs(value) < 10**11:
        return "[redacted-nin]"  # an eleven-digit number, e.g. an fnr parsed as an int
    return value


def _redact_value(key: str | None, value: Any) -> Any:
    if key is not None and key.lower() in SENSITIVE_KEYS and value not in (None, ""):
        return "[redacted]"
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(None, v) for v in value]
    return _redact_scalar(value)


def redact_sensitive(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask identity numbers anywhere in the event."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


class _RedactingFormatter(logging.Formatter):
    """For stdlib records (faust, aiokafka): redact the formatted line."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_national_ids(super().format(record))


def configure_logging(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging to ``stream`` (stderr when None), redacted, as
    JSON or console lines."""
    stream = stream or sys.stderr
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_sensitive,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The Kafka client narrates every metadata refresh at INFO; keep its warnings.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
