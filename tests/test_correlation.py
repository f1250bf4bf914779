"""Tests for correlation: which person key a DFØ or IAM record belongs to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.correlation import person_key, person_key_for
from hub.errors import MappingError
from hub.person_view import SourceKind

SECRET = "test-secret-not-for-production"
STAMP = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
EMPLOYEE_ID = "123456789"  # long enough not to appear in a hex digest by chance


def employee(employee_id: str = EMPLOYEE_ID, institution: str = "uio") -> dict[str, Any]:
    """The fields of a DFØ Employee record that correlation reads."""
    return {
        "institution": institution,
        "source_id": employee_id,
        "source_timestamp": STAMP,
        "employee_id": employee_id,
    }


def account(
    *external_ids: tuple[str, str],
    institution: str = "uio",
    iam_person_id: str | None = "cer-991",
    account_id: str = "acc-1",
) -> dict[str, Any]:
    """The fields of an IAM Account record that correlation reads."""
    return {
        "institution": institution,
        "source_system": "cerebrum",
        "source_id": account_id,
        "source_timestamp": STAMP,
        "iam_person_id": iam_person_id,
        "username": "sigridb",
        "status": "ACTIVE",
        "external_ids": [{"id_type": t, "value": v} for t, v in external_ids],
    }


def key_of_employee(record: dict[str, Any], secret: str = SECRET) -> str:
    """The person key of a DFØ employee record."""
    return person_key_for(secret, SourceKind.DFO_EMPLOYEE, record)


def key_of_account(record: dict[str, Any], secret: str = SECRET) -> str:
    """The person key of an IAM account record."""
    return person_key_for(secret, SourceKind.IAM_ACCOUNT, record)


class TestDfoLink:
    @pytest.mark.parametrize("dfo_pid", [EMPLOYEE_ID, "000" + EMPLOYEE_ID, "0" + EMPLOYEE_ID])
    def test_account_with_dfo_pid_joins_the_employee(self, dfo_pid: str) -> None:
        """An account whose DFO_PID is the employee number, zero-padded or not, joins it."""
        assert key_of_account(account(("DFO_PID", dfo_pid))) == key_of_employee(employee())

    def test_dfo_pid_is_found_among_other_external_ids(self) -> None:
        """DFO_PID links even when other external ids come first."""
        record = account(("GREG_PID", "42"), ("UHID", "x1"), ("DFO_PID", EMPLOYEE_ID))
        assert key_of_account(record) == key_of_employee(employee())

    def test_different_dfo_pid_is_a_different_person(self) -> None:
        """An account pointing at another employee number does not join this employee."""
        assert key_of_account(account(("DFO_PID", "987654321"))) != key_of_employee(employee())

    def test_different_institution_is_a_different_person(self) -> None:
        """The same employee number at two institutions gives two person keys."""
        assert key_of_employee(employee(institution="uio")) != key_of_employee(
            employee(institution="uib")
        )
        uib_account = account(("DFO_PID", EMPLOYEE_ID), institution="uib")
        assert key_of_account(uib_account) != key_of_employee(employee(institution="uio"))

    def test_key_is_stable(self) -> None:
        """The same record always gives the same key."""
        assert key_of_employee(employee()) == key_of_employee(employee())

    def test_key_depends_on_the_secret(self) -> None:
        """Another secret gives another key, so keys cannot be recomputed without it."""
        assert key_of_employee(employee()) != key_of_employee(employee(), secret="other")

    def test_key_does_not_reveal_the_employee_number(self) -> None:
        """The person key is pseudonymous: the employee number is not in it."""
        key = key_of_employee(employee())
        assert EMPLOYEE_ID not in key
        assert EMPLOYEE_ID.lstrip("0") not in key


class TestIamOnlyPeople:
    def test_account_without_dfo_pid_uses_the_iam_person_id(self) -> None:
        """Two accounts of one IAM person without DFO_PID share a key."""
        first = account(("GREG_PID", "42"), account_id="acc-1")
        second = account(account_id="acc-2")
        assert key_of_account(first) == key_of_account(second)

    def test_iam_key_differs_from_the_dfo_key_of_the_same_value(self) -> None:
        """An IAM person id equal to an employee number is not taken for that employee."""
        record = account(iam_person_id=EMPLOYEE_ID)
        assert key_of_account(record) != key_of_employee(employee())

    def test_different_iam_people_get_different_keys(self) -> None:
        """Accounts of two IAM persons without DFO_PID are two people."""
        assert key_of_account(account(iam_person_id="cer-1")) != key_of_account(
            account(iam_person_id="cer-2")
        )

    def test_without_any_person_id_the_account_is_its_own_person(self) -> None:
        """With neither DFO_PID nor IAM person id, each account is a person of its own."""
        one = account(iam_person_id=None, account_id="acc-1")
        two = account(iam_person_id=None, account_id="acc-2")
        assert key_of_account(one) != key_of_account(two)
        assert key_of_account(one) == key_of_account(dict(one))


class TestErrors:
    @pytest.mark.parametrize("source", [SourceKind.DFO_POSITION, "source.unknown", ""])
    def test_unknown_source_is_a_mapping_error(self, source: str) -> None:
        """A record from a source without a person mapping raises MappingError."""
        with pytest.raises(MappingError, match="no person"):
            person_key_for(SECRET, source, employee())


class TestPersonKey:
    def test_each_part_of_the_identifier_matters(self) -> None:
        """Institution, identifier kind and value each change the key."""
        base = person_key(SECRET, "uio", "dfo", "1")
        variants = {
            person_key(SECRET, "uib", "dfo", "1"),
            person_key(SECRET, "uio", "iam", "1"),
            person_key(SECRET, "uio", "dfo", "2"),
        }
        assert base not in variants
        assert len(variants) == 3
