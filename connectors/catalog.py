"""Every connector ``hub connector run NAME`` knows, by name.

Add a line here for a new connector (``"name": "module:Class"``); the class is imported
only when it is run, so a connector's dependencies load only where it runs.
"""

from __future__ import annotations

import importlib
from typing import Any

from connectors.sdk.connector import Connector
from hub.errors import ConfigurationError

__all__ = ["CONNECTORS", "connector_class"]

CONNECTORS: dict[str, str] = {
    "cerebrum-account": "connectors.cerebrum.connector:CerebrumAccountConnector",
    "cerebrum-person": "connectors.cerebrum.connector:CerebrumPersonConnector",
    "dfo-employee": "connectors.dfo.connector:DfoEmployeeConnector",
    "dfo-orgunit": "connectors.dfo.connector:DfoOrgUnitConnector",
    "dfo-payroll": "connectors.dfo.payroll_connector:DfoPayrollConnector",
    "dfo-position": "connectors.dfo.connector:DfoPositionConnector",
    "felles-iam-account": "connectors.felles_iam.connector:FellesIamAccountConnector",
    "felles-iam-person": "connectors.felles_iam.connector:FellesIamPersonConnector",
    "greg-person": "connectors.greg.connector:GregPersonConnector",
    "orgreg-orgunit": "connectors.orgreg.connector:OrgRegConnector",
    "profile-files": "connectors.profile_files.connector:ProfileFilesConnector",
    "unit4-approver-role": "connectors.unit4.connector:Unit4ApproverRoleConnector",
    "unit4-resource": "connectors.unit4.connector:Unit4ResourceConnector",
    "web-profile": "connectors.web.connector:WebProfileConnector",
}


def connector_class(name: str) -> type[Connector[Any]]:
    """The connector class registered as ``name``; ConfigurationError names the known ones."""
    target = CONNECTORS.get(name)
    if target is None:
        raise ConfigurationError(
            f"no connector named {name!r}; known: {', '.join(sorted(CONNECTORS))}"
        )
    module, _, attribute = target.partition(":")
    found = getattr(importlib.import_module(module), attribute)
    if not (isinstance(found, type) and issubclass(found, Connector)) or found.name != name:
        raise ConfigurationError(f"{target} is not the connector {name!r}")
    return found
