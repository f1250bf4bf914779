"""Tests of hub.avro.compatibility: Avro backward compatibility and schema history."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastavro.schema import load_schema

from hub.avro.compatibility import (
    Schema,
    backward_problems,
    check_backward,
    check_schema_history,
    revisions_touching,
    schema_dir_at,
)
from hub.errors import SchemaCompatibilityError, SchemaError

REPO_ROOT = Path(__file__).parents[1]


def record(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A record schema with the given fields."""
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def fld(name: str, type_: Schema, **extra: Any) -> dict[str, Any]:
    """A record field."""
    return {"name": name, "type": type_, **extra}


def wrap(type_: Schema) -> dict[str, Any]:
    """A record in namespace ``t`` holding one field ``v`` of the given type."""
    return record("R", fld("v", type_), namespace="t")


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a throwaway identity."""
    result = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.org",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    return result.stdout


def write_schema(directory: Path, schema: dict[str, Any]) -> Path:
    """Write ``schema`` to ``<fullname>.avsc`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{schema['namespace']}.{schema['name']}.avsc"
    path.write_text(json.dumps(schema, indent=2))
    return path


def commit_all(repo: Path, message: str) -> str:
    """Commit everything in ``repo`` and return the commit hash."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    return root


PERSON_V1 = record(
    "Person",
    fld("id", "string"),
    fld("status", {"type": "enum", "name": "Status", "symbols": ["ACTIVE", "GONE"]}),
    namespace="test.hub",
)
PERSON_V2 = record(
    "Person",
    *PERSON_V1["fields"],
    fld("nickname", ["null", "string"], default=None),
    namespace="test.hub",
)


class TestPrimitives:
    """Primitive types, promotions and logical types."""

    @pytest.mark.parametrize(
        "name", ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
    )
    def test_same_primitive_is_compatible(self, name: str) -> None:
        """Every primitive type reads itself."""
        assert backward_problems(name, name) == []

    @pytest.mark.parametrize(
        ("writer", "reader"),
        [
            ("int", "long"),
            ("int", "float"),
            ("int", "double"),
            ("long", "float"),
            ("long", "double"),
            ("float", "double"),
            ("string", "bytes"),
            ("bytes", "string"),
        ],
    )
    def test_promotions_are_compatible(self, writer: str, reader: str) -> None:
        """The specification's promotions let a wider reader read a narrower writer."""
        assert backward_problems(wrap(reader), wrap(writer)) == []

    @pytest.mark.parametrize(
        ("writer", "reader"),
        [
            ("long", "int"),
            ("double", "float"),
            ("float", "long"),
            ("string", "int"),
            ("boolean", "int"),
            ("null", "string"),
        ],
    )
    def test_narrowing_or_unrelated_types_are_incompatible(self, writer: str, reader: str) -> None:
        """A reader type that is neither equal nor a promotion is reported at the field."""
        assert backward_problems(wrap(reader), wrap(writer)) == [
            f"t.R.v: reader type {reader} cannot read writer type {writer}"
        ]

    def test_logical_type_reads_as_underlying_type(self) -> None:
        """A logical type added to or removed from the same underlying type is compatible."""
        millis = {"type": "long", "logicalType": "timestamp-millis"}
        assert backward_problems(wrap(millis), wrap("long")) == []
        assert backward_problems(wrap("long"), wrap(millis)) == []

    def test_logical_type_does_not_hide_underlying_mismatch(self) -> None:
        """A date (int) reader cannot read a timestamp (long) writer."""
        date = {"type": "int", "logicalType": "date"}
        millis = {"type": "long", "logicalType": "timestamp-millis"}
        assert backward_problems(wrap(date), wrap(millis)) == [
            "t.R.v: reader type int cannot read writer type long"
        ]

    def test_top_level_primitive_mismatch_has_root_path(self) -> None:
        """Problems outside any named type are reported at ``<root>``."""
        assert backward_problems("int", "string") == [
            "<root>: reader type int cannot read writer type string"
        ]


class TestRecords:
    """Records: names, aliases, fields, defaults and namespaces."""

    def test_added_field_with_default_is_compatible(self) -> None:
        """A reader field the writer lacks is filled from its default."""
        assert backward_problems(PERSON_V2, PERSON_V1) == []

    def test_added_field_without_default_is_incompatible(self) -> None:
        """A reader field the writer lacks and without a default is reported by path."""
        reader = record("Person", *PERSON_V1["fields"], fld("age", "int"), namespace="test.hub")
        assert backward_problems(reader, PERSON_V1) == [
            "test.hub.Person.age: reader field has no default and the writer does not have it"
        ]

    def test_removed_field_is_compatible(self) -> None:
        """Writer fields the reader does not know are skipped."""
        assert backward_problems(PERSON_V1, PERSON_V2) == []

    def test_field_alias_matches_renamed_field(self) -> None:
        """A reader field reads the writer field named by one of its aliases."""
        writer = record("R", fld("old", "int"), namespace="t")
        reader = record("R", fld("new", "long", aliases=["old"]), namespace="t")
        assert backward_problems(reader, writer) == []

    def test_renamed_field_without_alias_is_incompatible(self) -> None:
        """A renamed field without an alias or default cannot be filled."""
        writer = record("R", fld("old", "int"), namespace="t")
        reader = record("R", fld("new", "int"), namespace="t")
        assert backward_problems(reader, writer) == [
            "t.R.new: reader field has no default and the writer does not have it"
        ]

    def test_aliased_field_still_checks_its_type(self) -> None:
        """A field matched through an alias must still have a readable type."""
        writer = record("R", fld("old", "string"), namespace="t")
        reader = record("R", fld("new", "int", aliases=["old"]), namespace="t")
        assert backward_problems(reader, writer) == [
            "t.R.new: reader type int cannot read writer type string"
        ]

    def test_renamed_record_with_alias_is_compatible(self) -> None:
        """A reader record whose aliases name the writer record reads it."""
        writer = record("Old", fld("a", "int"), namespace="t")
        reader = record("New", fld("a", "int"), namespace="t", aliases=["Old"])
        assert backward_problems(reader, writer) == []

    def test_renamed_record_without_alias_is_incompatible(self) -> None:
        """Records with different full names and no alias do not match."""
        writer = record("Old", fld("a", "int"), namespace="t")
        reader = record("New", fld("a", "int"), namespace="t")
        assert backward_problems(reader, writer) == [
            "t.New: reader record t.New does not match writer record t.Old "
            "(neither its name nor one of its aliases)"
        ]

    def test_namespace_change_is_incompatible(self) -> None:
        """Records are matched by full name, so moving a namespace needs an alias."""
        writer = record("R", fld("a", "int"), namespace="old.ns")
        reader = record("R", fld("a", "int"), namespace="new.ns")
        assert len(backward_problems(reader, writer)) == 1
        reader["aliases"] = ["old.ns.R"]
        assert backward_problems(reader, writer) == []

    def test_nested_record_inherits_namespace_in_path(self) -> None:
        """A nested record without a namespace takes its parent's, and paths use it."""
        writer = record("Outer", fld("inner", record("Inner", fld("x", "int"))), namespace="t")
        reader = record(
            "Outer",
            fld("inner", record("Inner", fld("x", "int"), fld("y", "string"))),
            namespace="t",
        )
        assert backward_problems(reader, writer) == [
            "t.Inner.y: reader field has no default and the writer does not have it"
        ]

    def test_all_problems_are_reported(self) -> None:
        """Every incompatible field is listed, not only the first."""
        writer = record("R", fld("a", "string"), fld("b", "string"), namespace="t")
        reader = record("R", fld("a", "int"), fld("b", "int"), fld("c", "int"), namespace="t")
        assert len(backward_problems(reader, writer)) == 3

    def test_record_against_primitive_is_incompatible(self) -> None:
        """A record cannot read a primitive value."""
        assert backward_problems(wrap(record("X", fld("a", "int"))), wrap("int")) == [
            "t.R.v: reader type record t.X cannot read writer type int"
        ]


class TestEnums:
    """Enums: symbols, reader defaults and names."""

    @staticmethod
    def enum(symbols: list[str], **extra: Any) -> dict[str, Any]:
        """An enum ``t.E`` with the given symbols."""
        return {"type": "enum", "name": "E", "namespace": "t", "symbols": symbols, **extra}

    def test_added_symbol_is_compatible(self) -> None:
        """A reader with more symbols reads every writer symbol."""
        assert backward_problems(self.enum(["A", "B", "C"]), self.enum(["A", "B"])) == []

    def test_removed_symbol_is_incompatible(self) -> None:
        """A writer symbol missing from the reader enum is reported."""
        assert backward_problems(self.enum(["A"]), self.enum(["A", "B", "C"])) == [
            "t.E: writer symbols B, C are not in reader enum t.E, which has no default"
        ]

    def test_removed_symbol_with_reader_default_is_compatible(self) -> None:
        """A reader enum default absorbs writer symbols it does not know."""
        reader = self.enum(["A", "UNKNOWN"], default="UNKNOWN")
        assert backward_problems(reader, self.enum(["A", "B"])) == []

    def test_renamed_enum_is_incompatible(self) -> None:
        """Enums with different names do not match."""
        reader = {"type": "enum", "name": "F", "namespace": "t", "symbols": ["A"]}
        assert len(backward_problems(reader, self.enum(["A"]))) == 1
        reader["aliases"] = ["E"]
        assert backward_problems(reader, self.enum(["A"])) == []


class TestFixed:
    """Fixed types: names and sizes."""

    @staticmethod
    def fixed(size: int, name: str = "F") -> dict[str, Any]:
        """A fixed type in namespace ``t``."""
        return {"type": "fixed", "name": name, "namespace": "t", "size": size}

    def test_same_name_and_size_is_compatible(self) -> None:
        """Fixed types with equal names and sizes match."""
        assert backward_problems(self.fixed(16), self.fixed(16)) == []

    def test_different_size_is_incompatible(self) -> None:
        """A size change is reported with both sizes."""
        assert backward_problems(self.fixed(32), self.fixed(16)) == [
            "t.F: reader fixed t.F has size 32 but the writer's has size 16"
        ]

    def test_different_name_is_incompatible(self) -> None:
        """Fixed types with different names do not match even with the same size."""
        assert len(backward_problems(self.fixed(16, "G"), self.fixed(16))) == 1


class TestArraysAndMaps:
    """Arrays and maps compare their items and values."""

    def test_array_items_promotion_is_compatible(self) -> None:
        """Array items follow the promotion rules."""
        assert (
            backward_problems(
                wrap({"type": "array", "items": "long"}), wrap({"type": "array", "items": "int"})
            )
            == []
        )

    def test_array_items_mismatch_is_incompatible(self) -> None:
        """An incompatible item type is reported under ``[]``."""
        assert backward_problems(
            wrap({"type": "array", "items": "int"}), wrap({"type": "array", "items": "string"})
        ) == ["t.R.v[]: reader type int cannot read writer type string"]

    def test_map_values_promotion_is_compatible(self) -> None:
        """Map values follow the promotion rules."""
        assert (
            backward_problems(
                wrap({"type": "map", "values": "double"}), wrap({"type": "map", "values": "float"})
            )
            == []
        )

    def test_map_values_mismatch_is_incompatible(self) -> None:
        """An incompatible value type is reported under ``{}``."""
        assert backward_problems(
            wrap({"type": "map", "values": "int"}), wrap({"type": "map", "values": "boolean"})
        ) == ["t.R.v{}: reader type int cannot read writer type boolean"]

    def test_array_cannot_read_map(self) -> None:
        """An array reader cannot read a map writer."""
        problems = backward_problems(
            wrap({"type": "array", "items": "int"}), wrap({"type": "map", "values": "int"})
        )
        assert problems == ["t.R.v: reader type array<int> cannot read writer type map<int>"]

    def test_records_inside_arrays_are_checked(self) -> None:
        """A record nested in an array items is compared field by field."""
        writer = wrap({"type": "array", "items": record("Item", fld("a", "int"))})
        reader = wrap({"type": "array", "items": record("Item", fld("a", "int"), fld("b", "int"))})
        assert backward_problems(reader, writer) == [
            "t.Item.b: reader field has no default and the writer does not have it"
        ]


class TestUnions:
    """Unions on the writer side, the reader side and both."""

    def test_reader_union_containing_writer_type_is_compatible(self) -> None:
        """Making a field optional keeps old data readable."""
        assert backward_problems(wrap(["null", "string"]), wrap("string")) == []

    def test_reader_union_with_promotable_branch_is_compatible(self) -> None:
        """A reader union branch that promotes the writer type reads it."""
        assert backward_problems(wrap(["null", "double"]), wrap("int")) == []

    def test_reader_union_without_matching_branch_is_incompatible(self) -> None:
        """A reader union with no branch for the writer type is reported."""
        assert backward_problems(wrap(["null", "int"]), wrap("string")) == [
            "t.R.v: no branch of reader union[null, int] can read writer type string"
        ]

    def test_writer_union_with_every_branch_readable_is_compatible(self) -> None:
        """A non-union reader reads a writer union when it reads every branch."""
        assert backward_problems(wrap("double"), wrap(["int", "float"])) == []

    def test_writer_union_with_unreadable_branch_is_incompatible(self) -> None:
        """Making an optional field required breaks data that holds null."""
        assert backward_problems(wrap("string"), wrap(["null", "string"])) == [
            "t.R.v: reader type string cannot read writer type null"
        ]

    def test_both_unions_reader_superset_is_compatible(self) -> None:
        """A reader union that covers every writer branch is compatible."""
        assert backward_problems(wrap(["null", "long", "string"]), wrap(["null", "int"])) == []

    def test_both_unions_removed_branch_is_incompatible(self) -> None:
        """A writer branch the reader union lost is reported."""
        assert backward_problems(wrap(["null", "int"]), wrap(["null", "int", "string"])) == [
            "t.R.v: no branch of reader union[null, int] can read writer type string"
        ]

    def test_union_of_records_reports_the_inner_problem(self) -> None:
        """A record branch with the same name explains what is wrong inside it."""
        writer = wrap(["null", record("A", fld("x", "int")), record("B", fld("y", "int"))])
        reader = wrap(
            [
                "null",
                record("A", fld("x", "int"), fld("z", "int")),
                record("B", fld("y", "int")),
            ]
        )
        assert backward_problems(reader, writer) == [
            "t.A.z: reader field has no default and the writer does not have it"
        ]


class TestNamedReferences:
    """Named types referenced by name, in JSON and as fastavro loads them."""

    def test_reference_by_short_name_resolves_in_namespace(self) -> None:
        """A reference by short name resolves in the enclosing namespace."""
        schema = record(
            "R",
            fld("a", record("Point", fld("x", "int"))),
            fld("b", "Point"),
            namespace="t",
        )
        reader = record(
            "R",
            fld("a", record("Point", fld("x", "long"))),
            fld("b", "t.Point"),
            namespace="t",
        )
        assert backward_problems(reader, schema) == []

    def test_reference_carries_the_definitions_problems(self) -> None:
        """A reference checks the referenced definition; each problem is listed once."""
        writer = record("R", fld("a", record("P", fld("x", "int"))), fld("b", "P"), namespace="t")
        reader = record(
            "R", fld("a", record("P", fld("x", "string"))), fld("b", "P"), namespace="t"
        )
        assert backward_problems(reader, writer) == [
            "t.P.x: reader type string cannot read writer type int"
        ]

    def test_reference_only_on_one_side_is_checked(self) -> None:
        """A named type defined in another field of one schema is found by reference."""
        writer = record("R", fld("b", record("P", fld("x", "int"))), namespace="t")
        reader = record(
            "R",
            fld("a", ["null", record("P", fld("x", "int"), fld("y", "int"))], default=None),
            fld("b", "P"),
            namespace="t",
        )
        assert backward_problems(reader, writer) == [
            "t.P.y: reader field has no default and the writer does not have it"
        ]

    def test_undefined_reference_raises_schema_error(self) -> None:
        """A reference to a type the schema does not define is invalid input."""
        with pytest.raises(SchemaError, match=r"t\.Missing"):
            backward_problems(wrap("Missing"), wrap("int"))

    def test_fastavro_loaded_schemas_with_sibling_references(self, tmp_path: Path) -> None:
        """Schemas from ``load_schema``, with or without its hint keys, are understood."""
        write_schema(tmp_path / "v1", record("Child", fld("a", "int"), namespace="t"))
        write_schema(
            tmp_path / "v2", record("Child", fld("a", "int"), fld("b", "int"), namespace="t")
        )
        for version in ("v1", "v2"):
            write_schema(tmp_path / version, record("Parent", fld("c", "t.Child"), namespace="t"))
        old = load_schema(str(tmp_path / "v1" / "t.Parent.avsc"))
        new = load_schema(str(tmp_path / "v2" / "t.Parent.avsc"), _write_hint=False)
        assert "__fastavro_parsed" in old
        assert backward_problems(old, old) == []
        assert backward_problems(new, old) == [
            "t.Child.b: reader field has no default and the writer does not have it"
        ]

    def test_repository_schemas_read_themselves(self) -> None:
        """Every schema in the repository, loaded by fastavro, is compatible with itself."""
        paths = sorted((REPO_ROOT / "schemas" / "avro").glob("*.avsc"))
        assert paths
        for path in paths:
            schema = load_schema(str(path), _write_hint=False)
            assert backward_problems(schema, schema) == [], path.name


class TestRecursion:
    """Self-referencing and mutually recursive named types."""

    @staticmethod
    def linked_list(value_type: str, *extra_fields: dict[str, Any]) -> dict[str, Any]:
        """A singly linked list node ``t.Node``."""
        return record(
            "Node",
            fld("value", value_type),
            fld("next", ["null", "Node"], default=None),
            *extra_fields,
            namespace="t",
        )

    def test_self_reference_is_compatible(self) -> None:
        """A recursive record reads itself without looping."""
        assert backward_problems(self.linked_list("long"), self.linked_list("int")) == []

    def test_self_reference_incompatibility_is_reported_once(self) -> None:
        """A problem inside a recursive record is found and listed once."""
        reader = self.linked_list("int", fld("extra", "string"))
        assert backward_problems(reader, self.linked_list("int")) == [
            "t.Node.extra: reader field has no default and the writer does not have it"
        ]

    def test_mutual_recursion_terminates(self) -> None:
        """Two records that reference each other are checked without looping."""

        def tree(leaf_type: str) -> dict[str, Any]:
            return record(
                "Tree",
                fld("leaf", leaf_type),
                fld(
                    "forest",
                    record("Forest", fld("trees", {"type": "array", "items": "Tree"})),
                ),
                namespace="t",
            )

        assert backward_problems(tree("long"), tree("int")) == []
        assert backward_problems(tree("int"), tree("long")) == [
            "t.Tree.leaf: reader type int cannot read writer type long"
        ]


class TestCheckBackward:
    """The raising wrapper."""

    def test_compatible_schemas_pass(self) -> None:
        """Compatible schemas raise nothing."""
        check_backward(PERSON_V2, PERSON_V1, name="Person")

    def test_incompatible_schemas_raise_with_every_problem(self) -> None:
        """The error names the schema and lists every problem."""
        reader = record("R", fld("a", "int"), fld("b", "int"), namespace="t")
        writer = record("R", fld("a", "string"), namespace="t")
        with pytest.raises(SchemaCompatibilityError) as excinfo:
            check_backward(reader, writer, name="t.R")
        message = str(excinfo.value)
        assert message.startswith("t.R: ")
        assert "t.R.a: reader type int cannot read writer type string" in message
        assert "t.R.b: reader field has no default" in message
        assert isinstance(excinfo.value, SchemaError)


class TestGitHistory:
    """Reading schema directories from git."""

    def test_not_a_repository_has_no_revisions(self, tmp_path: Path) -> None:
        """A directory outside git has no history, and that is not an error."""
        assert revisions_touching(tmp_path, "schemas/avro") == []

    def test_repository_without_commits_has_no_revisions(self, repo: Path) -> None:
        """A fresh repository has no history, and that is not an error."""
        write_schema(repo / "schemas/avro", PERSON_V1)
        assert revisions_touching(repo, "schemas/avro") == []

    def test_revisions_are_oldest_first_and_only_touching_the_directory(self, repo: Path) -> None:
        """Only commits that change the directory are listed, oldest first."""
        write_schema(repo / "schemas/avro", PERSON_V1)
        first = commit_all(repo, "v1")
        (repo / "README").write_text("unrelated")
        commit_all(repo, "readme")
        write_schema(repo / "schemas/avro", PERSON_V2)
        second = commit_all(repo, "v2")
        assert revisions_touching(repo, "schemas/avro") == [first, second]

    def test_schema_dir_at_writes_the_old_files(self, repo: Path, tmp_path: Path) -> None:
        """The files of a revision are written, without other files or subdirectories."""
        directory = repo / "schemas/avro"
        write_schema(directory, PERSON_V1)
        (directory / "notes.txt").write_text("not a schema")
        write_schema(directory / "nested", PERSON_V1)
        first = commit_all(repo, "v1")
        write_schema(directory, PERSON_V2)
        commit_all(repo, "v2")
        written = schema_dir_at(repo, first, "schemas/avro", tmp_path / "out")
        assert [p.name for p in written] == ["test.hub.Person.avsc"]
        assert json.loads(written[0].read_text()) == PERSON_V1

    def test_schema_dir_at_missing_directory_is_empty(self, repo: Path, tmp_path: Path) -> None:
        """A revision without the directory yields no files."""
        (repo / "README").write_text("x")
        rev = commit_all(repo, "readme")
        assert schema_dir_at(repo, rev, "schemas/avro", tmp_path / "out") == []

    def test_schema_dir_at_unknown_revision_raises(self, repo: Path, tmp_path: Path) -> None:
        """A git failure becomes a SchemaError naming the command."""
        (repo / "README").write_text("x")
        commit_all(repo, "readme")
        with pytest.raises(SchemaError, match="git ls-tree"):
            schema_dir_at(repo, "no-such-revision", "schemas/avro", tmp_path / "out")


class TestCheckSchemaHistory:
    """BACKWARD_TRANSITIVE over the git history."""

    def test_compatible_history_has_no_problems(self, repo: Path) -> None:
        """A v2 that adds a field with a default is compatible with v1."""
        write_schema(repo / "schemas/avro", PERSON_V1)
        commit_all(repo, "v1")
        write_schema(repo / "schemas/avro", PERSON_V2)
        commit_all(repo, "v2")
        assert check_schema_history(repo) == []

    def test_new_field_without_default_is_reported_against_every_version(self, repo: Path) -> None:
        """A working-tree field without default is reported per historic commit."""
        write_schema(repo / "schemas/avro", PERSON_V1)
        v1 = commit_all(repo, "v1")
        write_schema(repo / "schemas/avro", PERSON_V2)
        v2 = commit_all(repo, "v2")
        v3 = record("Person", *PERSON_V2["fields"], fld("age", "int"), namespace="test.hub")
        write_schema(repo / "schemas/avro", v3)
        problem = "test.hub.Person.age: reader field has no default and the writer does not have it"
        assert check_schema_history(repo) == [
            f"test.hub.Person.avsc (vs {v1[:7]}): {problem}",
            f"test.hub.Person.avsc (vs {v2[:7]}): {problem}",
        ]

    def test_removed_enum_symbol_is_reported(self, repo: Path) -> None:
        """Dropping an enum symbol breaks reading data written with it."""
        write_schema(repo / "schemas/avro", PERSON_V1)
        commit_all(repo, "v1")
        status = {"type": "enum", "name": "Status", "symbols": ["ACTIVE"]}
        write_schema(
            repo / "schemas/avro",
            record("Person", fld("id", "string"), fld("status", status), namespace="test.hub"),
        )
        problems = check_schema_history(repo)
        assert len(problems) == 1
        assert problems[0].startswith("test.hub.Person.avsc (vs ")
        assert "writer symbols GONE are not in reader enum test.hub.Status" in problems[0]

    def test_deleted_schema_is_reported(self, repo: Path) -> None:
        """A schema removed from the working tree is a problem naming the file."""
        path = write_schema(repo / "schemas/avro", PERSON_V1)
        rev = commit_all(repo, "v1")
        path.unlink()
        assert check_schema_history(repo) == [
            f"test.hub.Person.avsc: deleted from schemas/avro, but it existed at {rev[:7]}; "
            "readers of data written with it have no schema"
        ]

    def test_unparseable_schema_is_reported(self, repo: Path) -> None:
        """A working-tree schema fastavro cannot parse is a problem naming the file."""
        directory = repo / "schemas/avro"
        directory.mkdir(parents=True)
        (directory / "t.Broken.avsc").write_text(
            json.dumps(record("Broken", fld("a", "NoSuchType"), namespace="t"))
        )
        problems = check_schema_history(repo)
        assert len(problems) == 1
        assert problems[0].startswith("t.Broken.avsc: does not parse: ")
        assert "NoSuchType" in problems[0]

    def test_references_resolve_against_the_same_revision(self, repo: Path) -> None:
        """A historic schema's references load from that revision's sibling files."""
        directory = repo / "schemas/avro"
        write_schema(directory, record("Child", fld("a", "int"), namespace="t"))
        write_schema(directory, record("Parent", fld("c", "t.Child"), namespace="t"))
        v1 = commit_all(repo, "v1")
        write_schema(directory, record("Child", fld("a", "string"), namespace="t"))
        problem = "t.Child.a: reader type string cannot read writer type int"
        assert check_schema_history(repo) == [
            f"t.Child.avsc (vs {v1[:7]}): {problem}",
            f"t.Parent.avsc (vs {v1[:7]}): {problem}",
        ]

    def test_repository_without_commits_checks_parsing_only(self, repo: Path) -> None:
        """Without history, parseable schemas have no problems."""
        write_schema(repo / "schemas/avro", PERSON_V1)
        assert check_schema_history(repo) == []

    def test_project_schemas_are_compatible_with_their_history(self) -> None:
        """The project's own schemas parse and can read every committed version."""
        assert check_schema_history(REPO_ROOT) == []
