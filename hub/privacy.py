"""National ID and passport numbers: recognising, masking and pseudonymising them.

They are used only for matching. Past correlation they appear as keyed
pseudonyms (HMAC-SHA256 with the configured secret), masked in tasks, and never
in logs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Literal

__all__ = [
    "NATIONAL_ID_PATTERN",
    "is_dummy_national_id",
    "mask_identifier",
    "national_id_kind",
    "national_id_pseudonym",
    "pseudonym",
    "redact_national_ids",
]

# Eleven digits standing alone: a fødselsnummer or D-number (first digit + 4).
NATIONAL_ID_PATTERN = re.compile(r"(?<!\d)\d{11}(?!\d)")

# DFØ uses placeholder national IDs that end in 00000, 00100 or 00200; they
# identify nobody and must never be matched on.
_DUMMY_NATIONAL_ID = re.compile(r".+00[012]00$")

IdentifierKind = Literal["nin", "dnr", "passport"]


def is_dummy_national_id(value: str) -> bool:
    """True for DFØ's placeholder national IDs (``.+00[012]00$``)."""
    return bool(_DUMMY_NATIONAL_ID.match(value))


def national_id_kind(value: str) -> Literal["nin", "dnr"]:
    """``dnr`` for a D-number (the first digit is raised by 4), ``nin`` for a fødselsnummer."""
    return "dnr" if value[:1] in "4567" and value[:1] != "" else "nin"


def national_id_pseudonym(secret: str, value: str) -> str:
    """The pseudonym of a national ID, of kind ``nin`` or ``dnr`` as the number says."""
    return pseudonym(secret, national_id_kind(value), value)


def pseudonym(secret: str, kind: IdentifierKind, value: str) -> str:
    """A stable keyed pseudonym for an identifier, e.g. ``nin:3f1c…``.

    The same secret, kind and value always give the same pseudonym; without the
    secret it cannot be reversed or recomputed from a guessed number.
    """
    normalised = re.sub(r"[\s-]", "", value).upper()
    digest = hmac.new(secret.encode(), f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:32]}"


def mask_identifier(value: str, keep: int = 2) -> str:
    """Mask all but the last ``keep`` characters: ``01019012345`` → ``*********45``."""
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


def redact_national_ids(text: str) -> str:
    """Replace every standalone run of eleven digits with ``[redacted-nin]``."""
    return NATIONAL_ID_PATTERN.sub("[redacted-nin]", text)
