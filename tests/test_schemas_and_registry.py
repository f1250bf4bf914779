"""The Avro contract against a real registry: every schema parses here and in the
registry, records round-trip in the Confluent wire format, and the registry refuses
an incompatible change."""

from __future__ import annotations

import copy
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from hub.avro.catalog import AvroSchema, SchemaCatalog
from hub.avro.codec import ConfluentCodec
from hub.avro.registry import RegistryClient
from hub.avro.wire import confluent_frame, confluent_unframe
from hub.errors import SchemaCompatibilityError, WireFormatError
from tests.factories import iam_account

ROOT = Path(__file__).resolve().parents[1]


class TestSchemaFiles:
    def test_every_schema_file_parses_and_is_named_after_its_type(self) -> None:
        """Every .avsc in schemas/avro loads, and the catalogue covers all of them."""
        files = sorted(p.name.removesuffix(".avsc") for p in (ROOT / "schemas/avro").glob("*.avsc"))
        catalog = SchemaCatalog()
        assert sorted(s.name for s in catalog) == files
        assert len(files) >= 6

    def test_schemas_check_command_passes_on_the_repository(self) -> None:
        """`hub schemas check` accepts the committed schemas against their git history."""
        result = subprocess.run(
            [sys.executable, "-m", "hub", "schemas", "check"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "backward compatible" in result.stdout


@pytest.mark.registry
class TestRegistry:
    async def test_every_schema_registers_in_the_real_registry(self, registry_url: str) -> None:
        """The registry's own Avro parser accepts each schema as the hub registers it."""
        client = RegistryClient(registry_url)
        run = uuid.uuid4().hex[:8]
        try:
            ids = {
                s.name: await client.register(f"{run}-{s.name}", s.text) for s in SchemaCatalog()
            }
        finally:
            await client.close()
        assert len(set(ids.values())) == len(ids), "distinct schemas get distinct ids"

    async def test_confluent_round_trip_and_unknown_id(self, registry_url: str) -> None:
        """A record encodes with a registered id and decodes back; an unknown id is a
        WireFormatError naming the id."""
        catalog = SchemaCatalog()
        codec = ConfluentCodec(catalog, RegistryClient(registry_url))
        schema = catalog["no.bott.hub.iam.Account"]
        record = iam_account()
        try:
            data = await codec.encode(f"rt-{uuid.uuid4().hex[:8]}", schema, record)
            schema_id, _ = confluent_unframe(data)
            fresh = ConfluentCodec(catalog, RegistryClient(registry_url))
            decoded = await fresh.decode(data, schema)
            await fresh.close()
            with pytest.raises(WireFormatError, match="999999"):
                await codec.decode(confluent_frame(999999, b"\x00"), schema)
        finally:
            await codec.close()
        assert schema_id > 0
        assert decoded["username"] == record["username"]
        assert decoded["external_ids"] == record["external_ids"]
        assert decoded["source_timestamp"].replace(microsecond=0) == record[
            "source_timestamp"
        ].replace(microsecond=0)

    async def test_registry_refuses_a_backward_incompatible_change(self, registry_url: str) -> None:
        """A new required field without a default is refused; with a default it is accepted."""
        catalog = SchemaCatalog()
        base = catalog["no.bott.hub.iam.Account"]
        subject = f"evolve-{uuid.uuid4().hex[:8]}-value"
        client = RegistryClient(registry_url)

        def variant(field: dict[str, object]) -> AvroSchema:
            plain = copy.deepcopy(base.plain)
            plain["fields"].append(field)
            return AvroSchema(name=base.name, parsed=None, plain=plain)

        try:
            await client.register(subject, base.text)
            with pytest.raises(SchemaCompatibilityError, match=subject):
                await client.register(subject, variant({"name": "x", "type": "string"}).text)
            ok = await client.register(
                subject, variant({"name": "x", "type": "string", "default": ""}).text
            )
        finally:
            await client.close()
        assert ok > 0
