"""Identifiers: what a source record says about who it is about.

Each identifier has a kind. Some kinds are *exclusive*: one person has at most one
value of that kind (one DFØ employee number, one national ID, one Greg id). Two
groups of records with different values of an exclusive kind are two people, and a
record that would join them is disputed, never merged. Other kinds (passports,
usernames, Feide names) may have several values per person.

Identity numbers arrive here only as keyed pseudonyms (``nin:…``, ``dnr:…``,
``passport:…``), so the correlation stage never sees a raw national ID.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass

__all__ = ["EXCLUSIVE_KINDS", "Identifier", "Kind", "person_key"]


class Kind(enum.StrEnum):
    """Identifier kinds, in the order that chooses a person's anchor (most stable first)."""

    NIN = "nin"  # fødselsnummer (pseudonym)
    DNR = "dnr"  # D-number (pseudonym)
    DFO = "dfo"  # DFØ employee number (ansattnummer)
    GREG = "greg"  # Greg person id
    IAM = "iam"  # IAM person id (Cerebrum person id)
    UHID = "uhid"  # Felles IAM person GUID
    UNIT4 = "unit4"  # Unit4 resource id
    PASSPORT = "passport"  # country + number (pseudonym)
    EPPN = "eppn"  # eduPersonPrincipalName (Feide), never reused
    USERNAME = "username"  # IAM username
    RECORD = "record"  # a disputed record's own anchor when all its identifiers are taken


EXCLUSIVE_KINDS = frozenset(
    {Kind.NIN, Kind.DNR, Kind.DFO, Kind.GREG, Kind.IAM, Kind.UHID, Kind.UNIT4}
)
_PRIORITY = {kind: rank for rank, kind in enumerate(Kind)}


@dataclass(frozen=True, order=False)
class Identifier:
    """One identifier: a kind and a value (already a pseudonym for identity numbers)."""

    kind: Kind
    value: str

    @property
    def exclusive(self) -> bool:
        return self.kind in EXCLUSIVE_KINDS

    def sort_key(self) -> tuple[int, str]:
        """Anchor order: by kind priority, then value."""
        return (_PRIORITY[self.kind], self.value)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"


def person_key(secret: str, institution: str, anchor: Identifier) -> str:
    """A person's key: a keyed hash of the institution and the person's anchor identifier.

    The anchor is the group's most stable identifier (:class:`Kind` order), so a
    person's key changes only when a more stable identifier joins (a foreign hire
    known by passport gets a D-number, say), which the merge handling follows.
    """
    digest = hmac.new(
        secret.encode(),
        f"{institution}|{anchor.kind.value}|{anchor.value}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return f"p-{digest[:24]}"
