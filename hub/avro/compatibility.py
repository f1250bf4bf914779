"""Avro backward compatibility: can a reader with the new schema read the old data?

The rules are the schema-resolution rules of the Avro specification, applied as a
static check: every value the *writer* schema can produce must be readable by the
*reader* schema.

* Primitives must be equal or a promotion: ``int`` to ``long``, ``float`` or
  ``double``; ``long`` to ``float`` or ``double``; ``float`` to ``double``;
  ``string`` to ``bytes`` and back. Logical types are ignored: only the underlying
  type is read.
* Records, enums and fixed types match when their full names are equal or the
  writer's full name is one of the reader's aliases (the rule the Java library and
  schema registries apply). A reader field matches a writer field by name or by one
  of the reader field's aliases; a reader field without a match needs a default,
  and writer fields the reader does not know are skipped.
* Every writer enum symbol must be a reader symbol, unless the reader enum has a
  ``default``. Fixed types must have the same size.
* Arrays and maps compare their items and values.
* A writer union needs every branch readable; a reader union needs some branch
  that reads the writer's type.

Schemas are given as the parsed JSON, fully expanded or with references to named
types defined earlier in the same schema; what
:func:`fastavro.schema.load_schema` returns works too.

:func:`check_schema_history` applies the check ``BACKWARD_TRANSITIVE``: the
working-tree schemas against every version committed to git.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from fastavro.schema import load_schema

from hub.errors import SchemaCompatibilityError, SchemaError

__all__ = [
    "Schema",
    "backward_problems",
    "check_backward",
    "check_schema_history",
    "revisions_touching",
    "schema_dir_at",
]

Schema: TypeAlias = "str | list[Schema] | dict[str, Any]"
"""An Avro schema as ``json.loads`` gives it."""

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}
_SHORT_COMMIT = 7


# --- the schema as a graph of typed nodes ------------------------------------------


@dataclass(frozen=True)
class _Primitive:
    name: str


@dataclass(eq=False)
class _Field:
    name: str
    aliases: tuple[str, ...]
    type: _Node
    has_default: bool


@dataclass(eq=False)
class _Record:
    fullname: str
    aliases: frozenset[str]
    fields: list[_Field] = field(default_factory=list)


@dataclass(eq=False)
class _Enum:
    fullname: str
    aliases: frozenset[str]
    symbols: tuple[str, ...]
    has_default: bool


@dataclass(eq=False)
class _Fixed:
    fullname: str
    aliases: frozenset[str]
    size: int


@dataclass(eq=False)
class _Array:
    items: _Node


@dataclass(eq=False)
class _Map:
    values: _Node


@dataclass(eq=False)
class _Union:
    branches: tuple[_Node, ...]


@dataclass(eq=False)
class _Ref:
    """A reference by name, bound to its definition once the whole schema is read."""

    candidates: tuple[str, ...]
    target: _Named | None = None


_Named: TypeAlias = "_Record | _Enum | _Fixed"
_Resolved: TypeAlias = "_Primitive | _Record | _Enum | _Fixed | _Array | _Map | _Union"
_Node: TypeAlias = "_Resolved | _Ref"


def _split_fullname(name: str, namespace: str) -> tuple[str, str]:
    """Return ``(fullname, namespace)`` of a name declared inside ``namespace``."""
    if "." in name:
        return name, name.rsplit(".", 1)[0]
    return (f"{namespace}.{name}" if namespace else name), namespace


class _Parser:
    """Turns one JSON schema into nodes, with a registry of its named types."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.named: dict[str, _Named] = {}
        self._refs: list[_Ref] = []

    def parse(self, schema: Schema) -> _Node:
        node = self._node(schema, "")
        for ref in self._refs:
            ref.target = next((self.named[c] for c in ref.candidates if c in self.named), None)
            if ref.target is None:
                raise SchemaError(
                    f"The {self.side} schema references {ref.candidates[0]!r}, "
                    "which it does not define"
                )
        return node

    def _fail(self, message: str) -> SchemaError:
        return SchemaError(f"The {self.side} schema is not valid Avro: {message}")

    def _node(self, schema: object, namespace: str) -> _Node:
        if isinstance(schema, list):
            return _Union(tuple(self._node(branch, namespace) for branch in schema))
        if isinstance(schema, str):
            return self._by_name(schema, namespace)
        if not isinstance(schema, dict):
            raise self._fail(f"{schema!r} is neither a type name, a union nor an object")
        return self._object(schema, namespace)

    def _by_name(self, name: str, namespace: str) -> _Node:
        if name in _PRIMITIVES:
            return _Primitive(name)
        fullname, _ = _split_fullname(name, namespace)
        ref = _Ref((fullname,) if fullname == name else (fullname, name))
        self._refs.append(ref)
        return ref

    def _object(self, schema: dict[str, Any], namespace: str) -> _Node:
        kind = schema.get("type")
        if isinstance(kind, (list, dict)):  # {"type": {...}} wraps a schema
            return self._node(kind, namespace)
        if not isinstance(kind, str):
            raise self._fail(f"{schema!r} has no type")
        if kind in _PRIMITIVES:
            return _Primitive(kind)  # a logical type reads as its underlying type
        if kind == "array":
            return _Array(self._node(schema.get("items"), namespace))
        if kind == "map":
            return _Map(self._node(schema.get("values"), namespace))
        if kind in {"record", "error", "enum", "fixed"}:
            return self._named(schema, kind, namespace)
        return self._node(kind, namespace)  # {"type": "some.Named"}

    def _named(self, schema: dict[str, Any], kind: str, enclosing: str) -> _Named:
        name = schema.get("name")
        if not isinstance(name, str) or not name:
            raise self._fail(f"a {kind} has no name")
        declared = schema.get("namespace")
        namespace = declared if isinstance(declared, str) else enclosing
        fullname, namespace = _split_fullname(name, namespace)
        aliases = frozenset(
            _split_fullname(alias, namespace)[0]
            for alias in schema.get("aliases") or ()
            if isinstance(alias, str)
        )
        node: _Named
        if kind == "enum":
            symbols = schema.get("symbols")
            if not isinstance(symbols, list):
                raise self._fail(f"enum {fullname} has no symbols")
            node = _Enum(fullname, aliases, tuple(map(str, symbols)), "default" in schema)
        elif kind == "fixed":
            size = schema.get("size")
            if not isinstance(size, int):
                raise self._fail(f"fixed {fullname} has no size")
            node = _Fixed(fullname, aliases, size)
        else:
            node = _Record(fullname, aliases)
        # Registered before the fields are read, so a record can contain itself.
        self.named.setdefault(fullname, node)
        if isinstance(node, _Record):
            for raw in schema.get("fields") or ():
                if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                    raise self._fail(f"record {fullname} has a field without a name")
                node.fields.append(
                    _Field(
                        name=raw["name"],
                        aliases=tuple(a for a in raw.get("aliases") or () if isinstance(a, str)),
                        type=self._node(raw.get("type"), namespace),
                        has_default="default" in raw,
                    )
                )
        return node


def _deref(node: _Node) -> _Resolved:
    while isinstance(node, _Ref):
        if node.target is None:  # pragma: no cover - parse() binds every reference
            raise SchemaError(f"unresolved reference {node.candidates[0]!r}")
        node = node.target
    return node


def _describe(node: _Node) -> str:
    resolved = _deref(node)
    if isinstance(resolved, _Primitive):
        return resolved.name
    if isinstance(resolved, (_Record, _Enum, _Fixed)):
        return f"{_kind(resolved)} {resolved.fullname}"
    if isinstance(resolved, _Array):
        return f"array<{_describe(resolved.items)}>"
    if isinstance(resolved, _Map):
        return f"map<{_describe(resolved.values)}>"
    return "union[" + ", ".join(_describe(b) for b in resolved.branches) + "]"


def _kind(node: _Named) -> str:
    return type(node).__name__.lstrip("_").lower()


# --- resolution ----------------------------------------------------------------------


def _names_match(reader: _Named, writer: _Named) -> bool:
    return reader.fullname == writer.fullname or writer.fullname in reader.aliases


def _same_kind(reader: _Node, writer: _Node) -> bool:
    """Whether a reader union branch is the one meant for the writer's type."""
    reader, writer = _deref(reader), _deref(writer)
    if isinstance(reader, _Primitive) and isinstance(writer, _Primitive):
        return reader.name == writer.name
    if isinstance(reader, (_Record, _Enum, _Fixed)) and type(reader) is type(writer):
        return _names_match(reader, writer)
    return isinstance(reader, (_Array, _Map)) and type(reader) is type(writer)


def _fixed_problems(reader: _Fixed, writer: _Fixed, path: str) -> list[str]:
    if reader.size == writer.size:
        return []
    return [
        f"{path}: reader fixed {reader.fullname} has size {reader.size} "
        f"but the writer's has size {writer.size}"
    ]


def _enum_problems(reader: _Enum, writer: _Enum, path: str) -> list[str]:
    missing = [s for s in writer.symbols if s not in reader.symbols]
    if not missing or reader.has_default:
        return []
    return [
        f"{path}: writer symbols {', '.join(missing)} are not in reader enum "
        f"{reader.fullname}, which has no default"
    ]


class _Checker:
    def __init__(self) -> None:
        # Results per pair of named types; a pair being checked maps to no problems,
        # so recursive types assume compatibility of the inner occurrence.
        self._named_results: dict[tuple[int, int], list[str]] = {}

    def check(self, reader_node: _Node, writer_node: _Node, path: str) -> list[str]:
        reader, writer = _deref(reader_node), _deref(writer_node)
        if isinstance(writer, _Union):
            problems: list[str] = []
            for branch in writer.branches:
                problems.extend(self.check(reader, branch, path))
            return problems
        if isinstance(reader, _Union):
            return self._into_union(reader, writer, path)
        return self._plain(reader, writer, path)

    def _plain(self, reader: _Resolved, writer: _Resolved, path: str) -> list[str]:
        """Check two types, neither of them a union."""
        if isinstance(reader, _Primitive) and isinstance(writer, _Primitive):
            if reader.name == writer.name or reader.name in _PROMOTIONS.get(writer.name, ()):
                return []
        elif isinstance(reader, _Array) and isinstance(writer, _Array):
            return self.check(reader.items, writer.items, f"{path}[]")
        elif isinstance(reader, _Map) and isinstance(writer, _Map):
            return self.check(reader.values, writer.values, f"{path}{{}}")
        elif isinstance(reader, (_Record, _Enum, _Fixed)) and type(reader) is type(writer):
            return self._named(reader, writer, path)
        return [
            f"{path}: reader type {_describe(reader)} cannot read writer type {_describe(writer)}"
        ]

    def _into_union(self, reader: _Union, writer: _Node, path: str) -> list[str]:
        results = [self.check(branch, writer, path) for branch in reader.branches]
        if any(not problems for problems in results):
            return []
        for branch, problems in zip(reader.branches, results, strict=True):
            if _same_kind(branch, writer):
                return problems  # the branch meant for this type explains what is wrong
        return [
            f"{path}: no branch of reader {_describe(reader)} can read writer type "
            f"{_describe(writer)}"
        ]

    def _named(self, reader: _Named, writer: _Named, path: str) -> list[str]:
        key = (id(reader), id(writer))
        if key in self._named_results:
            return self._named_results[key]
        self._named_results[key] = []
        problems = self._named_unmemoised(reader, writer, path)
        self._named_results[key] = problems
        return problems

    def _named_unmemoised(self, reader: _Named, writer: _Named, path: str) -> list[str]:
        if not _names_match(reader, writer):
            return [
                f"{path}: reader {_kind(reader)} {reader.fullname} does not match writer "
                f"{_kind(writer)} {writer.fullname} (neither its name nor one of its aliases)"
            ]
        if isinstance(reader, _Fixed) and isinstance(writer, _Fixed):
            return _fixed_problems(reader, writer, path)
        if isinstance(reader, _Enum) and isinstance(writer, _Enum):
            return _enum_problems(reader, writer, path)
        if isinstance(reader, _Record) and isinstance(writer, _Record):
            return self._record(reader, writer)
        return []  # pragma: no cover - callers pass two named types of the same kind

    def _record(self, reader: _Record, writer: _Record) -> list[str]:
        by_name = {f.name: f for f in writer.fields}
        problems: list[str] = []
        for reader_field in reader.fields:
            path = f"{reader.fullname}.{reader_field.name}"
            writer_field = by_name.get(reader_field.name) or next(
                (by_name[a] for a in reader_field.aliases if a in by_name), None
            )
            if writer_field is not None:
                problems.extend(self.check(reader_field.type, writer_field.type, path))
            elif not reader_field.has_default:
                problems.append(
                    f"{path}: reader field has no default and the writer does not have it"
                )
        return problems


def backward_problems(reader: Schema, writer: Schema) -> list[str]:
    """What keeps ``reader`` (the new schema) from reading data written with ``writer``.

    Each problem names its path (record full name and field); an empty list means the
    schemas are compatible. Raises :class:`SchemaError` when a schema is not valid
    Avro or references a named type it does not define.
    """
    reader_node = _Parser("reader").parse(reader)
    writer_node = _Parser("writer").parse(writer)
    root = _deref(reader_node)
    path = root.fullname if isinstance(root, (_Record, _Enum, _Fixed)) else "<root>"
    problems = _Checker().check(reader_node, writer_node, path)
    return list(dict.fromkeys(problems))  # a type used twice reports once


def check_backward(reader: Schema, writer: Schema, *, name: str) -> None:
    """Raise :class:`SchemaCompatibilityError` unless ``reader`` can read ``writer``'s data."""
    problems = backward_problems(reader, writer)
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise SchemaCompatibilityError(
            f"{name}: the new schema cannot read data written with the old one:\n{listing}"
        )


# --- git history ---------------------------------------------------------------------


def _git(repo_root: Path, *args: str) -> bytes:
    try:
        result = subprocess.run(
            ["git", "-C", str(repo_root), *args], capture_output=True, check=True
        )
    except FileNotFoundError as exc:
        raise SchemaError("Cannot read schema history: git is not on PATH") from exc
    except subprocess.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace").strip()
        raise SchemaError(f"git {' '.join(args)} failed in {repo_root}: {stderr}") from exc
    return result.stdout


def _has_commits(repo_root: Path) -> bool:
    """Whether ``repo_root`` is in a git work tree whose HEAD is a commit."""
    if not repo_root.is_dir():
        return False
    try:
        result = subprocess.run(
            ["git", "-C", str(repo_root), "rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as exc:
        raise SchemaError("Cannot read schema history: git is not on PATH") from exc
    return result.returncode == 0


def revisions_touching(repo_root: Path, rel_dir: str) -> list[str]:
    """Hashes of the commits that changed ``rel_dir``, oldest first.

    Empty when ``repo_root`` is not a git repository or has no commits yet.
    """
    if not _has_commits(repo_root):
        return []
    output = _git(repo_root, "log", "--format=%H", "--reverse", "--", rel_dir)
    return output.decode().split()


def schema_dir_at(repo_root: Path, rev: str, rel_dir: str, dest: Path) -> list[Path]:
    """Write the ``.avsc`` files of ``rel_dir`` as they were at ``rev`` into ``dest``.

    Returns the written files, sorted; empty when ``rel_dir`` did not exist at ``rev``.
    """
    prefix = rel_dir.strip("/")
    listing = _git(repo_root, "ls-tree", "-z", rev, "--", f"{prefix}/")
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for entry in listing.decode().split("\0"):
        if not entry:
            continue
        meta, _, rel_path = entry.partition("\t")
        name = rel_path.rsplit("/", 1)[-1]
        if meta.split()[1] != "blob" or not name.endswith(".avsc"):
            continue
        content = _git(repo_root, "show", f"{rev}:./{prefix}/{name}")
        target = dest / name
        target.write_bytes(content)
        written.append(target)
    return sorted(written)


def _load(path: Path) -> Schema:
    """Load one schema file, resolving named types from its sibling files."""
    try:
        schema: Schema = load_schema(str(path), _write_hint=False)
    except Exception as exc:  # fastavro raises many types; all mean "cannot parse"
        raise SchemaError(f"does not parse: {type(exc).__name__}: {exc}") from exc
    return schema


def check_schema_history(repo_root: Path, rel_dir: str = "schemas/avro") -> list[str]:
    """Check ``BACKWARD_TRANSITIVE``: the working tree against every committed version.

    For every ``.avsc`` file in ``rel_dir`` of the working tree, and every commit that
    touched ``rel_dir`` and held a file of the same name, reports what keeps the
    current schema from reading data written with that version. Also reports
    schemas that do not parse and schemas deleted from the working tree. Historic
    versions that do not parse are skipped: nothing the check can change. Returns
    the problems; an empty list means the history is compatible.
    """
    directory = repo_root / rel_dir
    present = sorted(directory.glob("*.avsc")) if directory.is_dir() else []
    problems: list[str] = []
    current: dict[str, Schema] = {}
    for path in present:
        try:
            current[path.name] = _load(path)
        except SchemaError as exc:
            problems.append(f"{path.name}: {exc}")
    present_names = {path.name for path in present}
    deleted: dict[str, str] = {}
    for rev in revisions_touching(repo_root, rel_dir):
        short = rev[:_SHORT_COMMIT]
        with tempfile.TemporaryDirectory(prefix="hub-avro-history-") as tmp:
            for old_path in schema_dir_at(repo_root, rev, rel_dir, Path(tmp)):
                name = old_path.name
                if name not in present_names:
                    deleted[name] = short
                    continue
                if name not in current:
                    continue  # the working-tree version does not parse: reported above
                try:
                    old = _load(old_path)
                except SchemaError:
                    continue
                try:
                    found = backward_problems(current[name], old)
                except SchemaError as exc:
                    found = [str(exc)]
                problems.extend(f"{name} (vs {short}): {problem}" for problem in found)
    problems.extend(
        f"{name}: deleted from {rel_dir}, but it existed at {short}; "
        "readers of data written with it have no schema"
        for name, short in sorted(deleted.items())
    )
    return problems
