"""The orgreg-orgunit connector: OrgReg's own 404 apart from a gateway's, the listing
checkpoint (with property tests of its parsing), and the conformance kit through the real
Kafka broker and schema registry, against the fake OrgReg."""

from __future__ import annotations

import doctest
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.orgreg import listing
from connectors.orgreg.connector import (
    RESPONSE_HEADER,
    OrgRegConnector,
    OrgRegSettings,
    classify,
    unit_key,
)
from connectors.orgreg.fake_server import RESPONSE_HEADER as FAKE_RESPONSE_HEADER
from connectors.orgreg.fake_server import OrgRegSource, orgreg_source
from connectors.orgreg.listing import decode_digests, digest, encode_digests
from connectors.sdk.errors import ConnectorError, SourceUnavailableError
from connectors.sdk.http import NotFound, Response
from connectors.testing.conformance import ConnectorConformance
from hub.errors import MappingError


def _answer(status: int, headers: dict[str, str]) -> Response:
    body = b'{"status": 404, "error": "Not Found", "path": "/v3/ou/9"}'
    return Response("http://orgreg/v3/ou/9", status, "application/json", body, headers)


class TestAnswers:
    def test_orgregs_own_404_is_not_found(self) -> None:
        """A 404 carrying OrgReg's response header is OrgReg saying there is no such unit."""
        assert FAKE_RESPONSE_HEADER == RESPONSE_HEADER
        assert isinstance(classify(_answer(404, {RESPONSE_HEADER: "/v3/ou/9"})), NotFound)

    def test_a_404_without_the_header_is_the_gateways(self) -> None:
        """Without the header the 404 came from the gateway: a fault, never a deletion."""
        with pytest.raises(SourceUnavailableError, match="gateway"):
            classify(_answer(404, {}))

    async def test_unusable_checkpoint_fails_loudly(self) -> None:
        """A checkpoint that is not OrgReg's fails the run instead of listing from scratch."""
        connector = OrgRegConnector(OrgRegSettings(base_url="http://127.0.0.1:9/", api_key="k"))
        with pytest.raises(ConnectorError, match="checkpoint"):
            await anext(connector.changes("1430=abc"))


class TestListingCheckpoint:
    def test_digest_ignores_key_order_but_not_values(self) -> None:
        """The same unit in another key order has the same digest; a changed name does not."""
        unit = {"ouId": 1430, "name": {"nob": "A", "eng": "B"}}
        assert digest(unit) == digest({"name": {"eng": "B", "nob": "A"}, "ouId": 1430})
        assert digest(unit) != digest({**unit, "name": {"nob": "C"}})

    def test_unit_keys(self) -> None:
        """A unit is keyed by its ouId without leading zeros; an unreadable one has none."""
        assert [unit_key(u) for u in ({"ouId": "01430"}, {"ouId": 7}, {"ouId": "x"}, [])] == [
            "1430",
            "7",
            None,
            None,
        ]

    @pytest.mark.parametrize(
        "checkpoint", ["", "v2:", "v1:1430", "v1:1430=XYZ", "v1:1=abcdefabcdef,1=abcdefabcdef"]
    )
    def test_bad_checkpoints_are_refused(self, checkpoint: str) -> None:
        """Anything but the digests raises MappingError."""
        with pytest.raises(MappingError, match="OrgReg checkpoint"):
            decode_digests(checkpoint)

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=120) | st.text(max_size=120).map(lambda t: "v1:" + t))
    def test_any_checkpoint_reads_as_digests_or_refuses(self, checkpoint: str) -> None:
        """Whatever is stored, decoding gives digests or a MappingError, nothing else."""
        try:
            digests = decode_digests(checkpoint)
        except MappingError:
            return
        assert decode_digests(encode_digests(digests)) == digests

    @settings(max_examples=100, deadline=None)
    @given(st.dictionaries(st.integers(0, 10**12).map(str), st.integers(0, 10**6), max_size=40))
    def test_any_listing_round_trips(self, listing: dict[str, int]) -> None:
        """The digests of any listing survive their checkpoint string."""
        digests = {key: digest({"ouId": key, "v": value}) for key, value in listing.items()}
        assert decode_digests(encode_digests(digests)) == digests


def test_module_examples_hold() -> None:
    """The examples in the listing module's docstring hold."""
    result = doctest.testmod(listing)
    assert (result.attempted > 0, result.failed) == (True, 0)


@pytest.mark.kafka
@pytest.mark.registry
class TestOrgRegConformance(ConnectorConformance):
    """The kit over a fake OrgReg, listed in full on every poll."""

    connector_class = OrgRegConnector

    @pytest.fixture
    async def source(self) -> AsyncIterator[OrgRegSource]:
        async with orgreg_source() as source:
            yield source
