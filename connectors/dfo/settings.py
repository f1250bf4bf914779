"""Settings of the DFØ connectors, from ``HUB_DFO_*`` variables."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.api_source import ApiSourceSettings

__all__ = ["DfoPayrollSettings", "DfoSettings"]


class DfoSettings(ApiSourceSettings):
    """How to reach DFØ SAP's API and its notification feed (the API key, the timeout,
    the feed and the pseudonym secret as every REST source has them)."""

    model_config = SettingsConfigDict(env_prefix="HUB_DFO_")

    base_url: str = Field(
        pattern=r"^https?://",
        description="The API gateway's base URL, before ansatte/v2 (e.g. https://…/dfo/).",
    )
    token: SecretStr | None = Field(
        default=None, description="A Maskinporten bearer token, if the gateway wants one."
    )
    amqp_exchange: str = Field(
        default="dfo",
        description="The topic exchange DFØ's notifications arrive on ('' to read a queue).",
    )
    amqp_prefetch: int = Field(default=20, ge=1, le=10_000)


class DfoPayrollSettings(DfoSettings):
    """DFØ payroll results are polled (runs finish a few times a month)."""

    poll_interval_s: float = Field(default=900.0, gt=0)
