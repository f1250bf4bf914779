"""The connector contract: what a connector author writes.

A connector is a class that declares its ``name``, the Avro ``schema`` it emits, the
logical ``topic`` (from ``deploy/topics.yaml``) it emits to and its ``settings_model``,
and implements one async generator, :meth:`Connector.changes`. The runtime
(:class:`connectors.sdk.runtime.ConnectorRuntime`) does the rest: lifecycle,
checkpoints, retries, dead letters, full reconciliation, health and metrics.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.sdk.items import Item, Record
from hub.settings import load_model, load_settings

__all__ = ["Connector", "ConnectorSettings", "load_connector_settings"]


def _hub_institution() -> str:
    return load_settings().institution


class ConnectorSettings(BaseSettings):
    """Settings every connector has. A connector's own model subclasses this and sets its
    environment prefix (``HUB_DFO_``); secrets are :class:`pydantic.SecretStr`."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_CONNECTOR_", env_file=".env", extra="ignore", frozen=True
    )

    institution: Literal["uib", "uio", "uit", "ntnu"] = Field(
        default_factory=_hub_institution,  # type: ignore[arg-type]
        description="The institution whose source this is (default: HUB_INSTITUTION).",
    )
    poll_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="Pause before asking again when changes() ends (a polled source).",
    )
    reconcile_interval_s: float | None = Field(
        default=86_400.0,
        gt=0,
        description="How often a full reconciliation runs; unset (None) for never.",
    )
    reconcile_on_start: bool = Field(
        default=False, description="Run a full reconciliation as soon as the connector starts."
    )
    retry_initial_s: float = Field(
        default=1.0, gt=0, description="First pause after a source fault."
    )
    retry_max_s: float = Field(
        default=60.0, gt=0, description="Longest pause between retries (backoff doubles)."
    )
    reconcile_attempts: int = Field(
        default=5, ge=1, description="Tries of a reconciliation before it waits for the next."
    )
    max_deletion_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description=(
            "A reconciliation that would delete more than this share of the known records"
            " (and more than 10) deletes none and reports it: an empty or cut listing is"
            " far likelier than a mass deletion."
        ),
    )


SettingsT = TypeVar("SettingsT", bound=ConnectorSettings)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def load_connector_settings(model: type[SettingsT], **overrides: object) -> SettingsT:
    """Read a connector's settings from the environment (its prefix), or raise a
    ConfigurationError naming each bad variable."""
    return load_model(model, "connector", **overrides)


class Connector(abc.ABC, Generic[SettingsT]):
    """A source of records for one topic.

    Subclasses declare:

    - ``name``: the connector's name (``hub connector run NAME``), e.g. ``dfo-employee``;
    - ``schema``: the Avro full name of the records (``no.bott.hub.dfo.Employee``);
    - ``topic``: the logical topic in ``deploy/topics.yaml`` (``source.dfo.employee``);
    - ``settings_model``: a :class:`ConnectorSettings` subclass;

    and implement :meth:`changes`; :meth:`list_all` (full reconciliation), :meth:`key`,
    :meth:`setup` and :meth:`teardown` are optional.
    """

    name: ClassVar[str]
    schema: ClassVar[str]
    topic: ClassVar[str]
    settings_model: ClassVar[type[ConnectorSettings]]

    def __init__(self, settings: SettingsT) -> None:
        self.settings = settings
        self.clock: Callable[[], datetime] = _wall_clock

    def now(self) -> datetime:
        """When a fetch happens (a record's ``source_timestamp``): wall time, or the
        event time a scenario replay sets through :attr:`clock`."""
        return self.clock()

    def key(self, record: Record) -> str:
        """The Kafka key of a record; by default its ``source_id``."""
        return str(record.get("source_id") or "")

    async def setup(self) -> None:
        """Open what the connector needs (HTTP sessions, …) before the first change."""

    async def teardown(self) -> None:
        """Close what :meth:`setup` opened."""

    @abc.abstractmethod
    def changes(self, cursor: str | None) -> AsyncIterator[Item]:
        """Yield what changed at the source since ``cursor`` (None: from the start, or
        from now for a notification feed).

        A generator that ends is called again after ``poll_interval_s`` with the last
        committed cursor (a polled source); one that never ends waits for notifications.
        Raise :class:`~connectors.sdk.errors.SourceUnavailableError` for a passing fault:
        the runtime waits and calls again from the last committed cursor.
        """

    def list_all(self) -> AsyncIterator[Item]:
        """Yield every record the source has now, for a full reconciliation: the runtime
        compares them with the last snapshot, publishes what changed and deletes what is
        gone. Not every source can list; the default says so."""
        raise NotImplementedError(f"connector {self.name} cannot list its source")

    @classmethod
    def can_list(cls) -> bool:
        """Whether this connector implements :meth:`list_all`."""
        return cls.list_all is not Connector.list_all

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Name, schema, topic and modes, for ``hub connector list``."""
        return {
            "name": cls.name,
            "schema": cls.schema,
            "topic": cls.topic,
            "reconciles": cls.can_list(),
            "settings": cls.settings_model.__name__,
        }
