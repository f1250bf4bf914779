"""Map Cerebrum's REST API JSON (UiO's IAM) to ``no.bott.hub.iam.Person`` and ``…Account``.

Cerebrum's REST API (``/v1``) spreads a person over several resources, so the
mappings take the parsed bodies of each, gathered in :class:`PersonBodies` and
:class:`AccountBodies` (``paths()`` says which requests give them):

* ``GET /v1/persons/{id}``: ``{"id", "birth_date", "created_at", "names":
  [{"source_system", "variant": "FIRST"|"LAST", "name"}], "contexts", "href"}``;
* ``…/affiliations``: ``{"affiliations": [{"affiliation", "status", "ou": {"id"},
  "source_system", "create_date", "last_date", "deleted_date"}]}``;
* ``…/external-ids``: ``{"external_ids": [{"id_type", "external_id",
  "source_system"}]}``, the type as the API names it (``dfoPersonId``,
  ``gregPersonId``, ``norwegianNationalId``, ``passportNumber``) or as Cerebrum
  does (``DFO_PID``, …);
* ``…/accounts``: ``{"accounts": [{"id", "name", "primary", "href"}]}``;
* ``…/consents``: ``{"consents": [{"name", "type": "opt-in"|"opt-out", …}]}``;
* ``GET /v1/accounts/{name}``: ``{"id", "name", "owner": {"id", "type"},
  "expire_date", "contexts", "active", …}``, with ``…/quarantines``
  (``{"locked", "quarantines"}``) and ``…/affiliations`` (``{"affiliations":
  [{"affiliation", "priority", "ou": {"id"}}]}``).

How it is mapped:

* A person's names are the ``FIRST`` and ``LAST`` variants, Cerebrum's cached
  (``Cached``) choice first, else the first given. Dates come as ``YYYY-MM-DD`` or
  as Cerebrum's naive ``YYYY-MM-DDTHH:MM:SS``; only the date counts.
* External ids: ``NO_BIRTHNO`` becomes the national ID pseudonym (two different
  ones are refused), ``PASSNR`` (``NO-123…``) passports; ``DFO_PID`` and
  ``GREG_PID`` are kept, as digits without leading zeros. Other types are left out.
* Affiliations keep affiliation, status, unit and source system; a deleted one
  (``deleted_date`` set) is left out.
* ``usernames`` are the person's accounts, ``primary_username`` the one marked
  primary. Its Feide name is ``primary@realm`` when a ``feide_realm`` is given,
  as Cerebrum's LDAP export builds ``eduPersonPrincipalName``.
* ``reserved_from_publication`` is Cerebrum's ``publication`` opt-out (which the
  API shows when the person is reserved from public listings);
  ``public_visibility_consent`` is a consent named in ``publish_consents``:
  true for opt-in, false for opt-out, null when there is none.
* An account's status: ``ACTIVE``; ``DISABLED`` when its quarantines lock it;
  ``EXPIRED`` when inactive and its expiry date has passed; ``DELETED`` when
  inactive otherwise; ``UNKNOWN`` when the API does not say. Its affiliations are
  the account's, with status and source from the owner's matching affiliation,
  and its external ids the owner's (identity numbers only as pseudonyms). It has a
  Feide name (``name@realm``) when it is in the ``feide_context`` (LDAP export).

The account's ``source_id`` is its name: the API and Cerebrum's events address
accounts by name, and UiO never reuses a username. Names, affiliations and
account names that hold what looks like a national ID are refused. Unknown fields
are ignored;
every other problem raises :class:`MappingError` naming the record (``Cerebrum
person 5501: affiliations[0].ou must be an object, not a number``), never quoting
an identity number.

Inferred, not documented by Cerebrum: the Feide context ``LDAP_account`` and the
default consent names; see ``docs/sources/cerebrum.md``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from connectors.identity_numbers import MappingContext, free_text, one_value, passport_parts
from connectors.source_json import (
    MAX_LIST_LENGTH,
    InvalidValueError,
    SourceRecord,
    code,
    date_value,
    flag,
    json_type,
    matching,
    national_id,
    numeric_id,
    required,
    show,
    text,
)
from hub.errors import MappingError

__all__ = [
    "ACCOUNT_NAME",
    "EXTERNAL_ID_TYPES",
    "FEIDE_CONTEXT",
    "PUBLISH_CONSENTS",
    "SOURCE_SYSTEM",
    "AccountBodies",
    "PersonBodies",
    "account_name",
    "map_account",
    "map_person",
]

SOURCE_SYSTEM = "cerebrum"
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
FEIDE_CONTEXT = "LDAP_account"
PUBLISH_CONSENTS = frozenset({"publish", "greg-publish"})
RESERVATION_CONSENT = "publication"
CACHED_NAMES = "Cached"
# The REST API's names for external id types (models.ExternalIdType), and Cerebrum's.
EXTERNAL_ID_TYPES = {
    "norwegianNationalId": "NO_BIRTHNO",
    "passportNumber": "PASSNR",
    "dfoPersonId": "DFO_PID",
    "gregPersonId": "GREG_PID",
    "employeeNumber": "NO_SAPNO",
    "studentNumber": "NO_STUDNO",
    "fsPersonSerialNumber": "NO_FSNO",
    "pagaEmployeeNumber": "PAGA_ANSATTNR",
}
_KEPT_IDS = ("DFO_PID", "GREG_PID")
_DAY = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ][0-9:.]+(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?")


# --- the bodies ---


@dataclass(frozen=True)
class PersonBodies:
    """The parsed bodies of the requests that together describe one Cerebrum person."""

    person: object
    affiliations: object
    external_ids: object
    accounts: object
    consents: object

    @staticmethod
    def paths(person_id: str) -> dict[str, str]:
        """The request path of each body, by field name."""
        base = f"/v1/persons/{person_id}"
        return {
            "person": base,
            "affiliations": f"{base}/affiliations",
            "external_ids": f"{base}/external-ids",
            "accounts": f"{base}/accounts",
            "consents": f"{base}/consents",
        }

    @classmethod
    def from_responses(cls, person_id: str, responses: Mapping[str, object]) -> PersonBodies:
        """Gather the bodies from responses by request path (a recorded set, say)."""
        return cls(**_gathered(cls.paths(person_id), responses, f"Cerebrum person {person_id}"))


@dataclass(frozen=True)
class AccountBodies:
    """The parsed bodies that describe one Cerebrum account, with its owner's ids.

    ``quarantines`` and the owner's bodies may be None (not fetched): then the
    account is not checked for locks, and has no statuses or external ids.
    """

    account: object
    affiliations: object
    quarantines: object = None
    owner_affiliations: object = None
    owner_external_ids: object = None

    @staticmethod
    def paths(name: str, owner_id: str | None = None) -> dict[str, str]:
        """The request path of each body, by field name (the owner's when known)."""
        base = f"/v1/accounts/{name}"
        found = {
            "account": base,
            "affiliations": f"{base}/affiliations",
            "quarantines": f"{base}/quarantines",
        }
        if owner_id is not None:
            owner = PersonBodies.paths(owner_id)
            found["owner_affiliations"] = owner["affiliations"]
            found["owner_external_ids"] = owner["external_ids"]
        return found

    @classmethod
    def from_responses(
        cls, name: str, responses: Mapping[str, object], owner_id: str | None = None
    ) -> AccountBodies:
        """Gather the bodies from responses by request path (a recorded set, say)."""
        paths = cls.paths(name, owner_id)
        return cls(**_gathered(paths, responses, f"Cerebrum account {name}"))


def _gathered(
    paths: Mapping[str, str], responses: Mapping[str, object], label: str
) -> dict[str, object]:
    missing = [path for path in paths.values() if path not in responses]
    if missing:
        raise MappingError(f"{label}: no response for {', '.join(missing)}")
    return {name: responses[path] for name, path in paths.items()}


# --- Cerebrum's own value converters; the general ones are in connectors.source_json ---


def account_name(value: object) -> str:
    """An account name (username), as the API and the events address accounts."""
    name = matching(ACCOUNT_NAME, "an account name")(value)
    return required(free_text)(name)


def _day(value: object) -> date | None:
    """A date, or the date of Cerebrum's date-time (``2027-01-01T00:00:00``)."""
    written = text(value)
    if written is None:
        return None
    found = _DAY.fullmatch(written)
    if found is None:
        raise InvalidValueError(f"{show(written)} is not a date (YYYY-MM-DD)")
    return date_value(found.group(1))


def _id_type(value: object) -> str:
    """An external id type, in Cerebrum's own name (``dfoPersonId`` → ``DFO_PID``)."""
    name = required(text)(value)
    return EXTERNAL_ID_TYPES.get(name, name)


def _listed(body: object, key: str, label: str) -> list[SourceRecord]:
    """The entries of ``{key: [...]}``, each named ``key[i].`` in errors."""
    record = SourceRecord.of(body, f"{label} {key}")
    if not isinstance(record.fields.get(key), list):
        raise MappingError(f"{label}: the {key} response has no '{key}' list")
    return SourceRecord({key: record.fields[key]}, label).nested(key)


def _ou(entry: SourceRecord) -> str | None:
    unit = entry.child("ou")
    return unit.get("id", numeric_id) if unit is not None else None


# --- identity numbers and external ids ---


@dataclass(frozen=True)
class _ExternalIds:
    national_id: str | None
    passports: list[tuple[str, str]]
    kept: list[dict[str, object]]


def _external_ids(body: object, label: str) -> _ExternalIds:
    """Identity numbers and the external ids the hub links on, from ``…/external-ids``."""
    numbers: list[str | None] = []
    passports: dict[tuple[str, str], None] = {}
    kept: dict[tuple[str, str], None] = {}
    entries = _listed(body, "external_ids", label)
    for entry in entries:
        id_type = entry.get("id_type", _id_type)
        if id_type == "NO_BIRTHNO":
            numbers.append(entry.get("external_id", national_id))
        elif id_type == "PASSNR":
            parts = entry.get("external_id", passport_parts)
            if parts is not None:
                passports[parts] = None
        elif id_type in _KEPT_IDS:
            kept[(id_type, entry.get("external_id", numeric_id))] = None
    holder = SourceRecord({}, label)
    return _ExternalIds(
        national_id=one_value(holder, "external_ids", numbers, "national IDs (NO_BIRTHNO)"),
        passports=list(passports),
        kept=[{"id_type": id_type, "value": value} for id_type, value in kept],
    )


# --- affiliations ---


def _person_affiliation(entry: SourceRecord) -> dict[str, object] | None:
    """One person affiliation; None when it is deleted."""
    if entry.get("deleted_date", _day) is not None:
        return None
    return {
        "affiliation": entry.get("affiliation", required(free_text)),
        "status": entry.get("status", free_text),
        "org_unit_id": _ou(entry),
        "source_system": entry.get("source_system", free_text),
    }


def _person_affiliations(body: object, label: str) -> list[dict[str, object]]:
    found = (_person_affiliation(entry) for entry in _listed(body, "affiliations", label))
    return [affiliation for affiliation in found if affiliation is not None]


# --- persons ---


def _names(record: SourceRecord) -> dict[str, object]:
    """FIRST and LAST names, Cerebrum's cached choice before any other source's."""
    chosen: dict[str, tuple[bool, str | None]] = {}
    for entry in record.nested("names"):
        variant = entry.get("variant", required(text))
        cached = entry.get("source_system", text) == CACHED_NAMES
        if variant not in chosen or (cached and not chosen[variant][0]):
            chosen[variant] = (cached, entry.get("name", free_text))
    return {
        "first_name": chosen.get("FIRST", (False, None))[1],
        "last_name": chosen.get("LAST", (False, None))[1],
    }


def _accounts(body: object, label: str, realm: str | None) -> dict[str, object]:
    """Usernames, the primary one, and its Feide name."""
    usernames: list[str] = []
    primary: list[str] = []
    for entry in _listed(body, "accounts", label):
        name = entry.get("name", account_name)
        usernames.append(name)
        if entry.get("primary", flag):
            primary.append(name)
    if len(primary) > 1:
        raise MappingError(f"{label}: accounts has {len(primary)} primary accounts")
    main = primary[0] if primary else None
    return {
        "usernames": sorted(set(usernames)),
        "primary_username": main,
        "feide_principal_name": f"{main}@{realm}" if main and realm else None,
    }


def _consents(body: object, label: str, publish: Collection[str]) -> dict[str, object]:
    """Whether the person consents to public listing, and whether Cerebrum reserves them."""
    consent: bool | None = None
    reserved = False
    for entry in _listed(body, "consents", label):
        name = entry.get("name", required(text))
        kind = entry.get("type", code)
        if name == RESERVATION_CONSENT and kind == "opt-out":
            reserved = True
        elif name in publish and kind in ("opt-in", "opt-out"):
            consent = kind == "opt-in"
    return {"public_visibility_consent": consent, "reserved_from_publication": reserved}


def map_person(
    bodies: PersonBodies,
    *,
    institution: str,
    secret: str,
    fetched_at: datetime,
    feide_realm: str | None = None,
    publish_consents: Collection[str] = PUBLISH_CONSENTS,
) -> dict[str, object]:
    """Map a Cerebrum person's bodies to a ``no.bott.hub.iam.Person`` record.

    ``secret`` keys the identity number pseudonyms; ``fetched_at`` (timezone-aware)
    becomes ``source_timestamp``; ``feide_realm`` (``uio.no``) gives the primary
    account's Feide name. Raises :class:`MappingError` for anything that does not fit.
    """
    person_id = SourceRecord.of(bodies.person, "Cerebrum person").get("id", numeric_id)
    label = f"Cerebrum person {person_id}"
    record = SourceRecord.of(bodies.person, label)
    context = MappingContext(institution, secret, fetched_at)
    head = context.header(record, SOURCE_SYSTEM, person_id)
    ids = _external_ids(bodies.external_ids, label)
    return {
        **head,
        "iam_person_id": person_id,
        "style": SOURCE_SYSTEM,
        "uhid": None,
        **_names(record),
        "birth_date": record.get("birth_date", _day),
        **context.national_id(ids.national_id),
        "passports": [context.passport(*parts) for parts in ids.passports],
        "external_ids": ids.kept,
        "affiliations": _person_affiliations(bodies.affiliations, label),
        **_accounts(bodies.accounts, label, feide_realm),
        **_consents(bodies.consents, label, publish_consents),
    }


# --- accounts ---


def _owner(record: SourceRecord) -> str | None:
    """The owning person's id; None for an account owned by a group."""
    owner = record.child("owner")
    if owner is None or owner.get("type", text) != "person":
        return None
    return owner.get("id", numeric_id)


def _status(record: SourceRecord, quarantines: object, today: date) -> str:
    if record.fields.get("active") is None:
        return "UNKNOWN"
    if not record.get("active", flag):
        expires = record.get("expire_date", _day)
        return "EXPIRED" if expires is not None and expires <= today else "DELETED"
    if quarantines is not None:
        locks = SourceRecord.of(quarantines, f"{record.label} quarantines")
        if locks.get("locked", flag):
            return "DISABLED"
    return "ACTIVE"


def _account_affiliations(bodies: AccountBodies, label: str) -> Iterator[dict[str, object]]:
    """The account's affiliations by priority, each with its owner's statuses and sources."""
    owners: list[dict[str, object]] = []
    if bodies.owner_affiliations is not None:
        owners = _person_affiliations(bodies.owner_affiliations, f"{label} owner")
    entries = _listed(bodies.affiliations, "affiliations", label)
    for entry in sorted(entries, key=lambda entry: entry.get("priority", _priority)):
        affiliation = entry.get("affiliation", required(free_text))
        unit = _ou(entry)
        matches = [
            owner
            for owner in owners
            if owner["affiliation"] == affiliation and owner["org_unit_id"] == unit
        ]
        yield from matches or [
            {"affiliation": affiliation, "status": None, "org_unit_id": unit, "source_system": None}
        ]


def _owner_ids(body: object, label: str, context: MappingContext) -> list[dict[str, object]]:
    """The owner's external ids for the account: identity numbers only as pseudonyms."""
    if body is None:
        return []
    ids = _external_ids(body, label)
    found: list[dict[str, object]] = []
    national = context.national_id(ids.national_id)["national_id_pseudonym"]
    if national is not None:
        found.append({"id_type": "NO_BIRTHNO", "value": national})
    for parts in ids.passports:
        found.append({"id_type": "PASSNR", "value": context.passport(*parts)["pseudonym"]})
    return [*found, *ids.kept]


def map_account(
    bodies: AccountBodies,
    *,
    institution: str,
    secret: str,
    fetched_at: datetime,
    feide_realm: str | None = None,
    feide_context: str = FEIDE_CONTEXT,
) -> dict[str, object]:
    """Map a Cerebrum account's bodies to a ``no.bott.hub.iam.Account`` record.

    ``fetched_at`` (timezone-aware) becomes ``source_timestamp`` and decides
    whether an inactive account has expired. Raises :class:`MappingError` for
    anything that does not fit.
    """
    name = SourceRecord.of(bodies.account, "Cerebrum account").get("name", account_name)
    label = f"Cerebrum account {name}"
    record = SourceRecord.of(bodies.account, label)
    context = MappingContext(institution, secret, fetched_at)
    head = context.header(record, SOURCE_SYSTEM, name)
    contexts = record.get("contexts", _texts)
    return {
        **head,
        "iam_person_id": _owner(record),
        "username": name,
        "feide_principal_name": (
            f"{name}@{feide_realm}" if feide_realm and feide_context in contexts else None
        ),
        "status": _status(record, bodies.quarantines, fetched_at.date()),
        "expires_on": record.get("expire_date", _day),
        "affiliations": list(_account_affiliations(bodies, label)),
        "external_ids": _owner_ids(bodies.owner_external_ids, f"{label} owner", context),
        "publicly_visible": None,
    }


def _texts(value: object) -> list[str]:
    """A list of short texts (``contexts``); missing is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidValueError(f"must be a list of names, not {json_type(value)}")
    if len(value) > MAX_LIST_LENGTH:
        raise InvalidValueError(f"has {len(value)} entries, at most {MAX_LIST_LENGTH}")
    return [required(text)(entry) for entry in value]


def _priority(value: object) -> int:
    """An account affiliation's priority (lowest first); missing comes last."""
    return int(numeric_id(value)) if value is not None else 2**63
