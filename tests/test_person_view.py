"""Tests for the person view (hub.person_view) and its stored state (PersonState)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastavro.validation import validate

from hub.avro.catalog import SchemaCatalog
from hub.avro.codec import SingleObjectCodec
from hub.person_view import (
    LinkedRecord,
    MovedRecord,
    PersonView,
    SourceKind,
    record_version,
    upsert_record,
)
from hub.pipeline import PERSON_STATE, state_of, view_of

CATALOG = SchemaCatalog()
PERSON = "p-0123456789abcdef01234567"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

SCHEMA_OF = {
    SourceKind.DFO_EMPLOYEE: "no.bott.hub.dfo.Employee",
    SourceKind.DFO_POSITION: "no.bott.hub.dfo.Position",
    SourceKind.IAM_ACCOUNT: "no.bott.hub.iam.Account",
    SourceKind.IAM_PERSON: "no.bott.hub.iam.Person",
    SourceKind.GREG_PERSON: "no.bott.hub.greg.Person",
    SourceKind.UNIT4_RESOURCE: "no.bott.hub.unit4.Resource",
    SourceKind.UNIT4_APPROVER_ROLE: "no.bott.hub.unit4.ApproverRole",
    SourceKind.PAYROLL_RESULT: "no.bott.hub.payroll.PayrollResult",
    SourceKind.WEB_PROFILE: "no.bott.hub.web.Profile",
}

LINKED = {
    "status": "LINKED",
    "anchor": "nin:*********45",
    "shared": ["dfo:7"],
    "candidates": [],
    "conflicts": [],
}
DISPUTED = {
    "status": "DISPUTED",
    "anchor": "nin:*********54",
    "shared": ["dfo:7"],
    "candidates": [{"person_key": "p-ffffffffffffffffffffffff", "anchor": "nin:*********45"}],
    "conflicts": [{"kind": "nin", "ours": ["nin:*********54"], "theirs": ["nin:*********45"]}],
}


def with_defaults(source: str, values: dict[str, Any]) -> dict[str, Any]:
    """A complete record of the source's schema: every field's default, then ``values``."""
    fields = CATALOG[SCHEMA_OF[source]].plain["fields"]
    record = {f["name"]: copy.deepcopy(f["default"]) for f in fields if "default" in f}
    record.update(values)
    return record


def employee(stamp: datetime = T0, number: str = "7", **values: Any) -> dict[str, Any]:
    """A DFØ employee record of Sigrid Bjørnstad."""
    return with_defaults(
        SourceKind.DFO_EMPLOYEE,
        {
            "institution": "uio",
            "source_id": number,
            "source_timestamp": stamp,
            "employee_id": number,
            "first_name": "Sigrid",
            "last_name": "Bjørnstad",
            "start_date": date(2026, 12, 1),
            **values,
        },
    )


def account(
    stamp: datetime = T1, account_id: str = "acc-1", status: str = "ACTIVE", **values: Any
) -> dict[str, Any]:
    """An IAM account record."""
    return with_defaults(
        SourceKind.IAM_ACCOUNT,
        {
            "institution": "uio",
            "source_system": "cerebrum",
            "source_id": account_id,
            "source_timestamp": stamp,
            "iam_person_id": "cer-991",
            "username": "sigridb",
            "status": status,
            **values,
        },
    )


def iam_person(stamp: datetime = T0, **values: Any) -> dict[str, Any]:
    """An IAM (Cerebrum) person record."""
    return with_defaults(
        SourceKind.IAM_PERSON,
        {
            "institution": "uio",
            "source_id": "cer-991",
            "source_timestamp": stamp,
            "iam_person_id": "cer-991",
            "first_name": "Sigrid I.",
            "last_name": "Bjørnstad",
            **values,
        },
    )


def greg_person(stamp: datetime = T0, **values: Any) -> dict[str, Any]:
    """A Greg guest record."""
    return with_defaults(
        SourceKind.GREG_PERSON,
        {
            "institution": "uio",
            "source_id": "g-3",
            "source_timestamp": stamp,
            "greg_id": "g-3",
            "first_name": "Sigi",
            "last_name": "Gjest",
            **values,
        },
    )


def web_profile(stamp: datetime, data_taken_at: datetime, **values: Any) -> dict[str, Any]:
    """A published web profile whose person data was taken at ``data_taken_at``."""
    return with_defaults(
        SourceKind.WEB_PROFILE,
        {
            "institution": "uio",
            "source_id": "/personer/sigridb",
            "source_timestamp": stamp,
            "profile_id": "/personer/sigridb",
            "username": "sigridb",
            "employee_id": "7",
            "published_name": "Sigrid Bjørnstad",
            "title": "Rådgiver",
            "data_taken_at": data_taken_at,
            "data_source": "iam",
            **values,
        },
    )


def one_of_each_source() -> list[tuple[str, dict[str, Any]]]:
    """A complete record from every person source, all about one person."""
    base = {"institution": "uio", "source_timestamp": T0}
    return [
        (SourceKind.DFO_EMPLOYEE, employee()),
        (
            SourceKind.DFO_POSITION,
            with_defaults(
                SourceKind.DFO_POSITION,
                {**base, "source_id": "300", "position_id": "300", "holders": []},
            ),
        ),
        (SourceKind.IAM_ACCOUNT, account()),
        (SourceKind.IAM_PERSON, iam_person()),
        (SourceKind.GREG_PERSON, greg_person()),
        (
            SourceKind.UNIT4_RESOURCE,
            with_defaults(
                SourceKind.UNIT4_RESOURCE,
                {**base, "source_id": "r-1", "resource_id": "r-1", "employee_id": "7"},
            ),
        ),
        (
            SourceKind.UNIT4_APPROVER_ROLE,
            with_defaults(
                SourceKind.UNIT4_APPROVER_ROLE,
                {
                    **base,
                    "source_id": "a-1",
                    "assignment_id": "a-1",
                    "resource_id": "r-1",
                    "role": "ATT",
                },
            ),
        ),
        (
            SourceKind.PAYROLL_RESULT,
            with_defaults(
                SourceKind.PAYROLL_RESULT,
                {
                    **base,
                    "source_id": "7/2026-11/r1",
                    "employee_id": "7",
                    "period": "2026-11",
                    "run_id": "r1",
                },
            ),
        ),
        (SourceKind.WEB_PROFILE, web_profile(T0, T0)),
    ]


def linked(
    source: str, record: dict[str, Any], link: dict[str, Any] | None = None, seq: int = 0
) -> LinkedRecord:
    """The record as the person holds it, under its usual reference."""
    return LinkedRecord(f"{source}/{record['source_id']}", source, record, link, seq)


def view(*records: LinkedRecord, **fields: Any) -> PersonView:
    """The test person's view after the records arrived in the given order."""
    result = PersonView(person_key=PERSON, institution="uio", **fields)
    for item in records:
        result = upsert_record(result, item)
    return result


def task(state: str = "OPEN") -> dict[str, Any]:
    """A complete CorrectionTask record of the test person."""
    return {
        "task_id": "task-000000000000000000000001",
        "rule_id": "access.new_hire_without_account",
        "state": state,
        "queue": None,
        "institution": "uio",
        "subject": PERSON,
        "person_key": PERSON,
        "resolution_evidence": [],
        "opened_at": T0,
        "updated_at": T0,
        "resolved_at": None,
        "revision": 1,
        "escalated": False,
        "exception": None,
        "severity": "P1",
        "owner_group": "iam",
        "display_name": "Sigrid Bjørnstad",
        "title_nb": "Nytilsatt uten brukerkonto",
        "title_en": "New hire without an account",
        "description_nb": "Beskrivelse",
        "description_en": "Description",
        "suggested_fix_nb": "Opprett kontoen",
        "suggested_fix_en": "Create the account",
        "evidence": [
            {"system": "iam", "field": "accounts", "value": "none", "source_timestamp": None}
        ],
        "due_date": date(2026, 12, 1),
    }


def full_view() -> PersonView:
    """A view with a record from every source, links, a task, a re-check and a record
    correlation moved elsewhere."""
    records = [linked(s, r, LINKED, seq=i) for i, (s, r) in enumerate(one_of_each_source())]
    return view(
        *records,
        tasks={task()["task_id"]: task()},
        next_check=T2,
        elsewhere={"source.greg.person/g-9": MovedRecord("p-ffffffffffffffffffffffff", 3, LINKED)},
    )


class TestUpsertRecord:
    def test_older_version_never_replaces_a_newer_one(self) -> None:
        """A version with a lower source timestamp than the held one is ignored."""
        newer = employee(stamp=T1, title="Stipendiat")
        older = employee(stamp=T0, title="Gammel tittel")
        result = view(
            linked(SourceKind.DFO_EMPLOYEE, newer), linked(SourceKind.DFO_EMPLOYEE, older)
        )
        assert result.employee == newer

    def test_newer_version_replaces_an_older_one(self) -> None:
        """A version with a higher source timestamp replaces the held one."""
        older = employee(stamp=T0, title="Gammel tittel")
        newer = employee(stamp=T1, title="Stipendiat")
        result = view(
            linked(SourceKind.DFO_EMPLOYEE, older), linked(SourceKind.DFO_EMPLOYEE, newer)
        )
        assert result.employee == newer

    def test_equal_timestamps_choose_the_same_version_in_any_order(self) -> None:
        """Of two versions with one source timestamp, the view keeps the same one
        whichever arrives last (ordered by content, as correlation orders them)."""
        first = account(stamp=T1, status="DISABLED")
        second = account(stamp=T1, status="ACTIVE")
        one = view(linked(SourceKind.IAM_ACCOUNT, first), linked(SourceKind.IAM_ACCOUNT, second))
        other = view(linked(SourceKind.IAM_ACCOUNT, second), linked(SourceKind.IAM_ACCOUNT, first))
        assert one.accounts == other.accounts
        kept = one.accounts["acc-1"]
        assert kept in (first, second)
        assert record_version(kept) == max(record_version(first), record_version(second))

    def test_a_newer_link_on_an_older_version_is_taken(self) -> None:
        """An older version carrying correlation's newer word (a higher seq) keeps the
        newer record but takes the link."""
        newer = employee(stamp=T1, title="Stipendiat")
        older = employee(stamp=T0, title="Gammel tittel")
        result = view(
            linked(SourceKind.DFO_EMPLOYEE, newer, LINKED, seq=1),
            linked(SourceKind.DFO_EMPLOYEE, older, DISPUTED, seq=2),
        )
        (held,) = result.records.values()
        assert (held.record, held.link, held.seq) == (newer, DISPUTED, 2)

    def test_an_older_link_on_a_newer_version_is_not_taken(self) -> None:
        """A newer version carrying an older word (a lower seq) replaces the record
        but keeps the held link."""
        older = employee(stamp=T0, title="Gammel tittel")
        newer = employee(stamp=T1, title="Stipendiat")
        result = view(
            linked(SourceKind.DFO_EMPLOYEE, older, LINKED, seq=2),
            linked(SourceKind.DFO_EMPLOYEE, newer, DISPUTED, seq=1),
        )
        (held,) = result.records.values()
        assert (held.record, held.link, held.seq) == (newer, LINKED, 2)

    def test_an_older_version_with_an_older_link_changes_nothing(self) -> None:
        """A version older in both source time and seq leaves the view as it was."""
        before = view(linked(SourceKind.DFO_EMPLOYEE, employee(stamp=T1), LINKED, seq=2))
        stale = linked(SourceKind.DFO_EMPLOYEE, employee(stamp=T0), DISPUTED, seq=1)
        assert upsert_record(before, stale) == before

    def test_records_are_kept_per_reference(self) -> None:
        """Two accounts of one person are both kept, each under its own reference."""
        one = account(account_id="acc-1")
        two = account(account_id="acc-2", username="sigridb2")
        result = view(linked(SourceKind.IAM_ACCOUNT, one), linked(SourceKind.IAM_ACCOUNT, two))
        assert set(result.records) == {"source.iam.account/acc-1", "source.iam.account/acc-2"}

    def test_the_given_view_is_not_modified(self) -> None:
        """upsert_record returns a new view; the one passed in keeps what it held."""
        original = view()
        upsert_record(original, linked(SourceKind.DFO_EMPLOYEE, employee()))
        assert original.records == {}


class TestStaleWebProfile:
    def test_older_web_profile_after_a_newer_hr_change_is_kept_beside_it(self) -> None:
        """A web profile whose data predates DFØ's latest change, arriving last, is held
        next to the employee record, which it leaves untouched."""
        hr = employee(stamp=T2, title="Seniorrådgiver")
        profile = web_profile(stamp=T2 + timedelta(hours=1), data_taken_at=T0)
        result = view(linked(SourceKind.DFO_EMPLOYEE, hr), linked(SourceKind.WEB_PROFILE, profile))
        assert result.employee == hr
        assert result.of_source(SourceKind.WEB_PROFILE) == [profile]
        assert set(result.records) == {
            "source.dfo.employee/7",
            "source.web.profile//personer/sigridb",
        }

    def test_older_version_of_the_web_profile_is_ignored(self) -> None:
        """An older version of the same web profile, arriving after a newer one, is dropped."""
        newer = web_profile(stamp=T2, data_taken_at=T1, title="Seniorrådgiver")
        older = web_profile(stamp=T1, data_taken_at=T0, title="Rådgiver")
        result = view(
            linked(SourceKind.DFO_EMPLOYEE, employee(stamp=T2)),
            linked(SourceKind.WEB_PROFILE, newer),
            linked(SourceKind.WEB_PROFILE, older),
        )
        assert result.of_source(SourceKind.WEB_PROFILE) == [newer]
        assert result.employee == employee(stamp=T2)


class TestDerivedFields:
    def test_of_puts_each_record_under_source_and_source_id(self) -> None:
        """PersonView.of holds each (source, record) pair under '<source>/<source id>'."""
        result = PersonView.of(
            PERSON,
            "uio",
            [(SourceKind.DFO_EMPLOYEE, employee()), (SourceKind.IAM_ACCOUNT, account())],
        )
        assert result.records == {
            "source.dfo.employee/7": LinkedRecord(
                "source.dfo.employee/7", SourceKind.DFO_EMPLOYEE, employee()
            ),
            "source.iam.account/acc-1": LinkedRecord(
                "source.iam.account/acc-1", SourceKind.IAM_ACCOUNT, account()
            ),
        }
        assert (result.person_key, result.institution, result.tasks) == (PERSON, "uio", {})

    def test_of_source_returns_only_that_source(self) -> None:
        """of_source lists the records of one source and nothing else."""
        result = PersonView.of(
            PERSON,
            "uio",
            [
                (SourceKind.IAM_ACCOUNT, account(account_id="acc-2")),
                (SourceKind.DFO_EMPLOYEE, employee()),
                (SourceKind.IAM_ACCOUNT, account(account_id="acc-1")),
            ],
        )
        assert [r["source_id"] for r in result.of_source(SourceKind.IAM_ACCOUNT)] == [
            "acc-1",
            "acc-2",
        ]
        assert result.of_source(SourceKind.GREG_PERSON) == []

    def test_employee_is_the_newest_of_several(self) -> None:
        """With two DFØ employee records (a dispute), employee is the newest one."""
        old = employee(stamp=T0, number="7")
        new = employee(stamp=T1, number="8")
        result = PersonView.of(
            PERSON, "uio", [(SourceKind.DFO_EMPLOYEE, new), (SourceKind.DFO_EMPLOYEE, old)]
        )
        assert result.employee == new

    def test_no_employee_without_a_dfo_record(self) -> None:
        """A person known only from IAM has no employee record."""
        assert PersonView.of(PERSON, "uio", [(SourceKind.IAM_ACCOUNT, account())]).employee is None

    def test_accounts_by_account_id(self) -> None:
        """accounts maps each IAM account id to its record."""
        one, two = account(account_id="acc-1"), account(account_id="acc-2", username="x")
        result = PersonView.of(
            PERSON, "uio", [(SourceKind.IAM_ACCOUNT, one), (SourceKind.IAM_ACCOUNT, two)]
        )
        assert result.accounts == {"acc-1": one, "acc-2": two}

    def test_disputed_lists_only_records_with_a_disputed_link(self) -> None:
        """disputed holds the records whose link says DISPUTED, not linked or unlinked ones."""
        disputed = linked(SourceKind.IAM_PERSON, iam_person(), DISPUTED)
        result = view(
            linked(SourceKind.DFO_EMPLOYEE, employee(), LINKED),
            disputed,
            linked(SourceKind.IAM_ACCOUNT, account()),
        )
        assert result.disputed == [disputed]

    @pytest.mark.parametrize(
        ("sources", "expected"),
        [
            ((SourceKind.GREG_PERSON, SourceKind.IAM_PERSON, SourceKind.DFO_EMPLOYEE), "Sigrid"),
            ((SourceKind.GREG_PERSON, SourceKind.IAM_PERSON), "Sigrid I. Bjørnstad"),
            ((SourceKind.GREG_PERSON,), "Sigi Gjest"),
            ((SourceKind.IAM_ACCOUNT,), None),
        ],
    )
    def test_display_name_prefers_dfo_then_iam_person_then_greg(
        self, sources: tuple[str, ...], expected: str | None
    ) -> None:
        """The display name comes from DFØ, else the IAM person, else Greg, else None."""
        records = {
            SourceKind.DFO_EMPLOYEE: employee(last_name=None),
            SourceKind.IAM_PERSON: iam_person(),
            SourceKind.GREG_PERSON: greg_person(),
            SourceKind.IAM_ACCOUNT: account(),
        }
        result = PersonView.of(PERSON, "uio", [(s, records[s]) for s in sources])
        assert result.display_name == expected

    def test_display_name_skips_a_dfo_record_without_a_name(self) -> None:
        """A DFØ record with no name parts gives way to the IAM person's name."""
        result = PersonView.of(
            PERSON,
            "uio",
            [
                (SourceKind.DFO_EMPLOYEE, employee(first_name=None, last_name=None)),
                (SourceKind.IAM_PERSON, iam_person()),
            ],
        )
        assert result.display_name == "Sigrid I. Bjørnstad"


class TestStoredState:
    def test_view_state_view_round_trip(self) -> None:
        """A view stored as state and read back is the same view."""
        original = full_view()
        assert view_of(state_of(original)) == original

    def test_state_holds_records_sorted_by_reference(self) -> None:
        """The state lists each record once, by reference, with its source and link."""
        state = state_of(full_view())
        refs = [r["ref"] for r in state["records"]]
        assert refs == sorted(refs)
        assert len(refs) == len(SCHEMA_OF)
        assert all(r["link"] == LINKED for r in state["records"])

    def test_state_is_a_valid_person_state(self) -> None:
        """The state, records given as the plain dicts the hub writes, validates as
        PersonState."""
        state = state_of(full_view())
        assert all(isinstance(r["record"], dict) for r in state["records"])
        assert validate(state, CATALOG[PERSON_STATE].parsed, raise_errors=True)

    def test_state_of_an_empty_view_is_valid(self) -> None:
        """A view with nothing in it still stores as a valid PersonState."""
        state = state_of(view())
        assert (state["records"], state["tasks"], state["elsewhere"]) == ([], [], [])
        assert state["next_check"] is None
        assert validate(state, CATALOG[PERSON_STATE].parsed, raise_errors=True)

    async def test_every_source_record_survives_avro_encoding(self) -> None:
        """Encoded and decoded as PersonState, each record comes back as its own type
        (the union branch is chosen from the plain dict), so the view is unchanged."""
        original = full_view()
        codec = SingleObjectCodec(CATALOG)
        schema = CATALOG[PERSON_STATE]
        decoded = await codec.decode(await codec.encode("t", schema, state_of(original)), schema)
        assert view_of(decoded) == original
