"""The connector SDK: declare a connector, and the runtime runs it.

The common case is one class (see ``docs/connectors.md``)::

    class StaffFileConnector(Connector[StaffFileSettings]):
        name = "staff-file"
        schema = "no.bott.hub.web.Profile"
        topic = "source.web.profile"
        settings_model = StaffFileSettings

        async def changes(self, cursor):
            ...  # yield Upsert / Delete / Failed / Checkpoint items

The runtime (:class:`ConnectorRuntime`) adds the lifecycle, checkpoints on
``connector.checkpoints``, retries with backoff and jitter, dead letters, full
reconciliation against the snapshot on ``connector.snapshots``, and health metrics.
Importing this package connects to nothing.
"""

from connectors.sdk.connector import Connector, ConnectorSettings, load_connector_settings
from connectors.sdk.errors import ConnectorError, SourceUnavailableError
from connectors.sdk.health import ConnectorState, Health
from connectors.sdk.items import (
    Checkpoint,
    Delete,
    Failed,
    Item,
    Record,
    Upsert,
    mapped,
    parse_json,
)
from connectors.sdk.retry import Backoff
from connectors.sdk.runtime import ConnectorRuntime, Reconciliation

__all__ = [
    "Backoff",
    "Checkpoint",
    "Connector",
    "ConnectorError",
    "ConnectorRuntime",
    "ConnectorSettings",
    "ConnectorState",
    "Delete",
    "Failed",
    "Health",
    "Item",
    "Reconciliation",
    "Record",
    "SourceUnavailableError",
    "Upsert",
    "load_connector_settings",
    "mapped",
    "parse_json",
]
