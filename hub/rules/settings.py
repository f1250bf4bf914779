"""What rules may be tuned by: lead days, grace periods, enabled rules."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RuleSettings"]


class RuleSettings(BaseModel):
    """Settings for one institution's rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    new_hire_lead_days: int = Field(
        default=14, ge=0, le=365, description="How long before the start date access must exist."
    )
