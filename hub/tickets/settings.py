"""The ticket sink's settings, from ``HUB_*`` environment variables like the rest.

Which system an institution uses is in the institutions file (``ticket_system``);
where each system is and how to log in to it is here. Tokens and passwords are
:class:`pydantic.SecretStr`: they print as ``**********`` and are never logged.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["TicketSettings"]


class TicketSettings(BaseSettings):
    """Ticket systems, and how the sink delivers to them."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_file=".env", extra="ignore", frozen=True
    )

    rt_url: str | None = Field(
        default=None, description="RT's base URL (REST2 is under /REST/2.0/)."
    )
    rt_token: SecretStr | None = Field(default=None, description="An RT auth token.")
    rt_task_field: str = Field(
        default="HubTaskId", description="The RT ticket custom field that holds the task id."
    )
    rt_requestor: str | None = Field(
        default=None, description="Requestor of the tickets the hub files in RT (an address)."
    )
    topdesk_url: str | None = Field(default=None, description="TOPdesk's base URL (/tas/api/).")
    topdesk_user: str | None = Field(default=None, description="TOPdesk operator login name.")
    topdesk_password: SecretStr | None = Field(
        default=None, description="That operator's TOPdesk application password."
    )
    topdesk_caller: str = Field(
        default="University integration hub",
        description="The caller name TOPdesk incidents are filed under.",
    )
    servicenow_url: str | None = Field(
        default=None, description="ServiceNow instance URL (the Table API is /api/now/table/)."
    )
    servicenow_user: str | None = Field(default=None, description="ServiceNow integration user.")
    servicenow_password: SecretStr | None = Field(
        default=None, description="That user's ServiceNow password."
    )
    tickets_group: str = Field(
        default="tickets", description="Consumer group suffix of the sink (after the app id)."
    )
    tickets_readback_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often the tickets of open tasks are read back from their systems.",
    )
    tickets_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long one request to a ticket system may take."
    )
    tickets_retry_attempts: int = Field(
        default=8, ge=1, le=100, description="Tries per request before the sink stops."
    )
    tickets_retry_base_seconds: float = Field(default=0.5, gt=0)
    tickets_retry_cap_seconds: float = Field(default=30.0, gt=0)
