"""The schemas in ``schemas/avro/``: the source of truth for every record on the wire."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import fastavro
import fastavro.schema

from hub.errors import SchemaError

__all__ = ["SCHEMA_DIR", "AvroSchema", "SchemaCatalog"]

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"


def _strip_fastavro_keys(value: Any) -> Any:
    """The plain JSON form of a schema that fastavro loaded (without its private keys)."""
    if isinstance(value, dict):
        return {k: _strip_fastavro_keys(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_strip_fastavro_keys(v) for v in value]
    return value


@dataclass(frozen=True)
class AvroSchema:
    """One named schema, self-contained (every referenced type expanded)."""

    name: str
    parsed: Any
    plain: Any

    @cached_property
    def text(self) -> str:
        """The schema as compact JSON, as it is registered with a registry."""
        return json.dumps(self.plain, separators=(",", ":"), sort_keys=True)

    @cached_property
    def canonical(self) -> str:
        """Avro's Parsing Canonical Form."""
        return str(fastavro.schema.to_parsing_canonical_form(self.parsed))

    @cached_property
    def fingerprint(self) -> bytes:
        """The CRC-64-AVRO fingerprint of the canonical form, little-endian, as
        Avro single-object encoding puts it on the wire."""
        value = int(fastavro.schema.fingerprint(self.canonical, "CRC-64-AVRO"), 16)
        return value.to_bytes(8, "little")


class SchemaCatalog:
    """All schemas of one directory, looked up by full name or fingerprint."""

    def __init__(self, directory: Path = SCHEMA_DIR) -> None:
        self.directory = directory
        self._by_name: dict[str, AvroSchema] = {}
        files = sorted(directory.glob("*.avsc"))
        if not files:
            raise SchemaError(f"no Avro schemas (*.avsc) in {directory}")
        for path in files:
            try:
                parsed = fastavro.schema.load_schema(str(path))
            except (fastavro.schema.SchemaParseException, ValueError, KeyError, OSError) as exc:
                raise SchemaError(f"cannot parse Avro schema {path.name}: {exc}") from exc
            plain = _strip_fastavro_keys(parsed)
            name = path.name.removesuffix(".avsc")
            if (
                plain.get("namespace", "") + "." + plain.get("name", "") != name
                and plain.get("name") != name
            ):
                raise SchemaError(
                    f"{path.name} defines {plain.get('namespace')}.{plain.get('name')};"
                    " a schema file must be named after the type it defines"
                )
            self._by_name[name] = AvroSchema(name=name, parsed=parsed, plain=plain)
        self._by_fingerprint = {s.fingerprint: s for s in self._by_name.values()}

    def __getitem__(self, name: str) -> AvroSchema:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(
                f"no schema named {name!r} in {self.directory}; known: {sorted(self._by_name)}"
            ) from None

    def __iter__(self) -> Any:
        return iter(self._by_name.values())

    def by_fingerprint(self, fingerprint: bytes) -> AvroSchema | None:
        return self._by_fingerprint.get(fingerprint)
