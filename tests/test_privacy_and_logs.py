"""Tests for national ID handling (pseudonyms, masking, dummies, redaction) and for logs
that never carry a national ID or passport number."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog

from hub.logs import configure_logging, redact_sensitive
from hub.privacy import (
    is_dummy_national_id,
    mask_identifier,
    pseudonym,
    redact_national_ids,
)

SECRET = "test-secret-not-for-production"
FNR = "01017012345"
OTHER_FNR = "15059912345"
PASSPORT = "AB123"


class TestPseudonym:
    def test_stable(self) -> None:
        """The same secret, kind and value always give the same pseudonym."""
        assert pseudonym(SECRET, "nin", FNR) == pseudonym(SECRET, "nin", FNR)

    def test_keyed_by_the_secret(self) -> None:
        """Another secret gives another pseudonym for the same number."""
        assert pseudonym(SECRET, "nin", FNR) != pseudonym("another-secret", "nin", FNR)

    def test_different_numbers_differ(self) -> None:
        """Two national IDs get two pseudonyms."""
        assert pseudonym(SECRET, "nin", FNR) != pseudonym(SECRET, "nin", OTHER_FNR)

    def test_kind_is_part_of_the_pseudonym(self) -> None:
        """A passport and a national ID with the same characters do not collide."""
        nin = pseudonym(SECRET, "nin", FNR)
        passport = pseudonym(SECRET, "passport", FNR)
        assert nin != passport
        assert nin.startswith("nin:")
        assert passport.startswith("passport:")

    @pytest.mark.parametrize("spelling", ["010170 12345", "010170-12345", " 01017012345 "])
    def test_spaces_and_dashes_are_ignored(self, spelling: str) -> None:
        """A number written with spaces or dashes gives the plain number's pseudonym."""
        assert pseudonym(SECRET, "nin", spelling) == pseudonym(SECRET, "nin", FNR)

    def test_letters_are_case_insensitive(self) -> None:
        """Passport numbers in lower and upper case give the same pseudonym."""
        assert pseudonym(SECRET, "passport", "fk 123-4567") == pseudonym(
            SECRET, "passport", "FK1234567"
        )

    def test_does_not_contain_the_number(self) -> None:
        """The pseudonym does not reveal the number it stands for."""
        value = pseudonym(SECRET, "nin", FNR)
        assert FNR not in value
        assert FNR[-5:] not in value


class TestMask:
    def test_keeps_only_the_last_two_characters(self) -> None:
        """By default all but the last two characters are stars; the length is kept."""
        masked = mask_identifier(FNR)
        assert len(masked) == len(FNR)
        assert masked.endswith(FNR[-2:])
        assert set(masked[:-2]) == {"*"}

    def test_keep_is_configurable(self) -> None:
        """keep=4 leaves the last four characters visible."""
        masked = mask_identifier("FK1234567", keep=4)
        assert masked.endswith("4567")
        assert set(masked[:-4]) == {"*"}
        assert len(masked) == len("FK1234567")

    @pytest.mark.parametrize("value", ["", "7", "42"])
    def test_short_values_are_fully_masked(self, value: str) -> None:
        """A value no longer than `keep` is all stars, never shown."""
        assert mask_identifier(value) == "*" * len(value)


class TestDummyNationalIds:
    @pytest.mark.parametrize("value", ["01017000000", "01017000100", "01017000200"])
    def test_dfo_placeholders_are_dummies(self, value: str) -> None:
        """National IDs ending in 00000, 00100 or 00200 are DFØ placeholders."""
        assert is_dummy_national_id(value)

    @pytest.mark.parametrize("value", [FNR, OTHER_FNR, "01017000300", "01017001000"])
    def test_real_looking_numbers_are_not_dummies(self, value: str) -> None:
        """Other endings are treated as real national IDs."""
        assert not is_dummy_national_id(value)


class TestRedactNationalIds:
    def test_standalone_eleven_digits_are_redacted(self) -> None:
        """Every eleven-digit run in a text is replaced, and the rest is kept."""
        text = redact_national_ids(f"fnr {FNR} and {OTHER_FNR}.")
        assert FNR not in text
        assert OTHER_FNR not in text
        assert text.startswith("fnr ")
        assert text.count("redacted") == 2

    def test_digits_next_to_letters_are_redacted(self) -> None:
        """An eleven-digit run glued to letters or punctuation is still redacted."""
        text = redact_national_ids(f"id={FNR};x{FNR}y")
        assert FNR not in text

    @pytest.mark.parametrize("value", ["1234567890", "123456789012", "2026-11-22T09:00:00"])
    def test_other_digit_runs_are_kept(self, value: str) -> None:
        """Runs shorter or longer than eleven digits (ids, timestamps) are left alone."""
        assert redact_national_ids(value) == value


@contextmanager
def configured(level: str = "INFO", fmt: str = "json") -> Iterator[None]:
    """configure_logging for one test; structlog and stdlib logging restored afterwards."""
    root = logging.getLogger()
    kafka = logging.getLogger("aiokafka")
    handlers, root_level, kafka_level = root.handlers[:], root.level, kafka.level
    configure_logging(level, fmt)
    try:
        yield
    finally:
        structlog.reset_defaults()
        root.handlers[:] = handlers
        root.setLevel(root_level)
        kafka.setLevel(kafka_level)


def json_lines(text: str) -> list[dict[str, object]]:
    """Every non-empty line of ``text`` parsed as JSON."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class TestLogs:
    def test_structlog_event_is_redacted_json_on_stderr(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """National IDs and passports under any key or nesting never reach stderr."""
        with configured():
            structlog.get_logger().info(
                "x",
                fnr=FNR,
                note=f"id {FNR} here",
                nested={"passport": PASSPORT, "list": [FNR]},
            )
        captured = capsys.readouterr()
        assert captured.out == ""
        (line,) = json_lines(captured.err)
        assert line["event"] == "x"
        assert isinstance(line["nested"], dict)
        assert str(line["note"]).startswith("id ")
        for secret in (FNR, PASSPORT):
            assert secret not in captured.err

    def test_exceptions_are_redacted(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A traceback whose message carries a national ID is logged without it."""
        with configured():
            try:
                raise ValueError(f"bad record for {FNR}")  # noqa: TRY301
            except ValueError:
                structlog.get_logger().exception("failed")
        err = capsys.readouterr().err
        (line,) = json_lines(err)
        assert "ValueError" in str(line["exception"])
        assert FNR not in err

    def test_stdlib_logging_is_redacted(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Library loggers (aiokafka, faust) go to stderr with national IDs redacted."""
        with configured():
            logging.getLogger("aiokafka").warning("fetch failed for %s", FNR)
            logging.getLogger("aiokafka").warning("... %s", OTHER_FNR)
        err = capsys.readouterr().err
        assert "fetch failed for" in err
        assert "aiokafka" in err
        assert FNR not in err
        assert OTHER_FNR not in err

    def test_level_filters_structlog_events(self, capsys: pytest.CaptureFixture[str]) -> None:
        """At WARNING, info events are dropped and warnings are written."""
        with configured("WARNING"):
            structlog.get_logger().info("quiet")
            structlog.get_logger().warning("loud")
        events = [line["event"] for line in json_lines(capsys.readouterr().err)]
        assert events == ["loud"]

    def test_console_format_is_redacted_too(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The console renderer gets the same redaction as JSON."""
        with configured("INFO", "console"):
            structlog.get_logger().info("console_event", fnr=FNR, note=f"id {FNR}")
        err = capsys.readouterr().err
        assert "console_event" in err
        assert FNR not in err

    def test_root_logging_is_restored(self) -> None:
        """configure_logging replaces the root handlers; the helper puts them back."""
        root = logging.getLogger()
        before = root.handlers[:]
        with configured():
            assert root.handlers != before
        assert root.handlers == before


class TestRedactSensitiveProcessor:
    @pytest.mark.parametrize("key", ["fnr", "NIN", "passport_number", "idNr", "passnr"])
    def test_sensitive_keys_are_masked_whatever_the_value(self, key: str) -> None:
        """Values under identity-number keys are replaced, even when not eleven digits."""
        event = redact_sensitive(None, "info", {"event": "x", key: "FK1234567"})
        assert "FK1234567" not in json.dumps(event)
        assert event["event"] == "x"

    def test_empty_sensitive_values_stay_empty(self) -> None:
        """A missing identity number is logged as missing, not as '[redacted]'."""
        event = redact_sensitive(None, "info", {"fnr": None, "passport": ""})
        assert event == {"fnr": None, "passport": ""}

    def test_non_sensitive_values_are_kept(self) -> None:
        """Ordinary values (numbers, short strings, nested ones) pass through unchanged."""
        event = {"count": 3, "topic": "hub.tasks", "nested": {"ok": True, "list": ["a"]}}
        assert redact_sensitive(None, "info", dict(event)) == event

    def test_deep_nesting_inside_lists_is_redacted(self) -> None:
        """A native DFØ record logged whole loses its national ID and passport numbers."""
        native = {"ansatt": [{"fnr": FNR, "annenId": [{"idType": "02", "idNr": "FK1234567"}]}]}
        text = json.dumps(redact_sensitive(None, "info", {"payload": native}))
        assert FNR not in text
        assert "FK1234567" not in text
        assert '"02"' in text
