"""National IDs and passports as every connector hands them on: pseudonyms and masked forms.

A :class:`MappingContext` carries what a mapping is given besides the source's
JSON (institution, pseudonym secret, fetch time) and makes each record's head.

A source sends an identity number in its own way (DFØ's ``fnr`` and ``annenId``,
Greg's ``norwegian_national_id_number`` and ``passport_number`` identities,
Cerebrum's ``NO_BIRTHNO`` and ``PASSNR`` external ids). The canonical records
carry them in one form, so that correlation can compare them across sources:

>>> national_id_fields("secret", "01017012345")["national_id_masked"]
'*********45'
>>> passport_parts("NO-FK1234567")
('NO', 'FK1234567')
>>> ref = passport_ref("secret", "NO", "FK1234567")
>>> ref["masked"], ref["pseudonym"].startswith("passport:")
('*******67', True)

Free text that a record copies (a name, a role type, a code) must not hold
what looks like a national ID: :func:`free_text`, :func:`free_code` and
:func:`feide_name` refuse it, so that a national ID in the wrong field of a
source never reaches a record.

>>> free_text("Ingrid")
'Ingrid'
>>> feide_name("ingridha@uio.no")
'ingridha@uio.no'

The pseudonym of a passport is keyed on ``country-number`` exactly as the DFØ
mapping keys it, so that the same passport in DFØ, Greg and the IAM gives the
same pseudonym. Converters here raise
:class:`~connectors.source_json.InvalidValueError` and never quote the number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from connectors.source_json import InvalidValueError, SourceRecord, code, show, source_header, text
from hub.errors import MappingError
from hub.privacy import NATIONAL_ID_PATTERN, mask_identifier, national_id_pseudonym, pseudonym

__all__ = [
    "MappingContext",
    "feide_name",
    "free_code",
    "free_text",
    "national_id_fields",
    "one_value",
    "passport_parts",
    "passport_ref",
]

_PASSPORT = re.compile(r"([A-Za-z]{2})-(\S+)")
_FEIDE_NAME = re.compile(r"[^@\s]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _no_national_id(written: str | None) -> str | None:
    if written is not None and NATIONAL_ID_PATTERN.search(written):
        raise InvalidValueError("holds what looks like a national ID")
    return written


def free_text(value: object) -> str | None:
    """Free text (:func:`text`) that holds no national ID (eleven digits standing alone)."""
    return _no_national_id(text(value))


def free_code(value: object) -> str | None:
    """A code (:func:`code`) that holds no national ID."""
    return _no_national_id(code(value))


def feide_name(value: object) -> str | None:
    """A Feide name, ``uid@realm`` (eduPersonPrincipalName); empty is None."""
    written = free_text(value)
    if written is not None and not _FEIDE_NAME.fullmatch(written):
        raise InvalidValueError(f"{show(written)} is not a Feide name (uid@realm)")
    return written


def national_id_fields(secret: str, number: str | None) -> dict[str, object]:
    """The ``national_id_pseudonym`` and ``national_id_masked`` fields for a number or None."""
    return {
        "national_id_pseudonym": national_id_pseudonym(secret, number) if number else None,
        "national_id_masked": mask_identifier(number) if number else None,
    }


def passport_ref(secret: str, country: str | None, number: str) -> dict[str, object]:
    """A ``PassportRef``: the issuing country, a keyed pseudonym and a masked number."""
    return {
        "country": country,
        "pseudonym": pseudonym(secret, "passport", f"{country or ''}-{number}"),
        "masked": mask_identifier(number),
    }


def passport_parts(value: object) -> tuple[str, str] | None:
    """A passport written ``CC-number`` (Greg's and Cerebrum's form) as (country, number)."""
    written = text(value)
    if written is None:
        return None
    found = _PASSPORT.fullmatch(written)
    if found is None:
        raise InvalidValueError("is not a passport number written as country-number (NO-123…)")
    return found.group(1).upper(), found.group(2)


def one_value(
    record: SourceRecord, key: str, values: Iterable[str | None], what: str
) -> str | None:
    """The one value that the entries of ``record[key]`` agree on, None if there is none.

    Raises :class:`MappingError` (``… identities has 2 different national IDs``)
    when they disagree: a person cannot have two, and guessing one would link the
    wrong person.
    """
    distinct = sorted({value for value in values if value is not None})
    if len(distinct) > 1:
        problem = f"has {len(distinct)} different {what}"
        raise MappingError(f"{record.label}: {record.path}{key} {problem}")
    return distinct[0] if distinct else None


@dataclass(frozen=True)
class MappingContext:
    """What a mapping is given besides the JSON: institution, pseudonym secret, fetch time."""

    institution: str
    secret: str
    fetched_at: datetime

    def header(self, record: SourceRecord, source_system: str, source_id: str) -> dict[str, object]:
        """The record's head (:func:`source_header`), once the settings are checked."""
        if not self.secret:
            raise MappingError(f"{record.label}: no pseudonym secret given")
        return source_header(
            record,
            source_system=source_system,
            source_id=source_id,
            institution=self.institution,
            fetched_at=self.fetched_at,
        )

    def national_id(self, number: str | None) -> dict[str, object]:
        """The national ID fields for ``number`` (see :func:`national_id_fields`)."""
        return national_id_fields(self.secret, number)

    def passport(self, country: str | None, number: str) -> dict[str, object]:
        """A passport reference (see :func:`passport_ref`)."""
        return passport_ref(self.secret, country, number)
