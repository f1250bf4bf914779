"""The web-profile connector: the export's own 404 apart from a gateway's, one change per
page and answer, and the conformance kit through the real Kafka broker and schema
registry, against the fake person-page export."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from connectors.sdk.errors import SourceUnavailableError
from connectors.sdk.http import NotFound, Response
from connectors.testing.conformance import ConnectorConformance
from connectors.web.connector import WebProfileConnector, classify, export_not_found, latest
from connectors.web.fake_server import WebSource, web_source
from connectors.web.polling import ChangePage, ProfileChange

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _answer(status: int, body: object) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response("http://web/api/profiles/personer/x", status, "application/json", raw)


class TestAnswers:
    def test_the_exports_404_says_the_page_is_gone(self) -> None:
        """The export's own error body on a 404 means no page: NotFound (a tombstone)."""
        body = {"status": 404, "error": "Not Found", "message": "No person page at /x"}
        assert classify(_answer(404, body)) == NotFound("Not Found")

    @pytest.mark.parametrize(
        "body",
        [
            {"message": "No context-path matches the request URI.", "http_status_code": 404},
            b"<html><body>404 Not Found</body></html>",
            {"status": 404, "error": "Not Found"},
            {"status": "404", "error": "Not Found", "message": "x"},
            b"",
        ],
    )
    def test_any_other_404_is_a_gateway_fault(self, body: object) -> None:
        """Without the export's own body a 404 is a gateway's: retried, never a deletion."""
        assert export_not_found(_answer(404, body)) is None
        with pytest.raises(SourceUnavailableError, match="gateway"):
            classify(_answer(404, body))


class TestLatest:
    def test_each_page_once_at_its_latest_change(self) -> None:
        """A page changed twice in one answer is handled once, in the place of its last
        change; a deletion after a change wins."""
        changes = [
            ProfileChange(1, "/a", deleted=False, at=AT),
            ProfileChange(2, "/b", deleted=False, at=AT),
            ProfileChange(3, "/a", deleted=False, at=AT),
            ProfileChange(4, "/b", deleted=True, at=AT),
        ]
        kept = latest(ChangePage(tuple(changes), "4", more=False))
        assert [(c.sequence, c.uri, c.deleted) for c in kept] == [(3, "/a", False), (4, "/b", True)]


@pytest.mark.kafka
@pytest.mark.registry
class TestWebProfileConformance(ConnectorConformance):
    """The kit over a fake export (two changes or pages per request: paging is exercised)."""

    connector_class = WebProfileConnector

    @pytest.fixture
    async def source(self) -> AsyncIterator[WebSource]:
        async with web_source() as source:
            yield source
