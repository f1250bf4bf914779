"""Fetching jars from Maven Central into a cache outside the repository."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from hub.errors import EmbeddedServiceError

__all__ = ["MavenArtifact", "fetch_artifacts", "file_lock"]

_COMPLETE_MARKER = ".complete"


@dataclass(frozen=True)
class MavenArtifact:
    """One Maven coordinate."""

    group: str
    artifact: str
    version: str
    classifier: str | None = None
    type: str = "jar"

    @property
    def coordinate(self) -> str:
        """group:artifact:version:type[:classifier], as Maven's -Dartifact takes it."""
        tail = f":{self.classifier}" if self.classifier else ""
        return f"{self.group}:{self.artifact}:{self.version}:{self.type}{tail}"

    def dependency_xml(self) -> str:
        parts = [
            f"<groupId>{escape(self.group)}</groupId>",
            f"<artifactId>{escape(self.artifact)}</artifactId>",
            f"<version>{escape(self.version)}</version>",
            f"<type>{escape(self.type)}</type>",
        ]
        if self.classifier:
            parts.append(f"<classifier>{escape(self.classifier)}</classifier>")
        return "<dependency>" + "".join(parts) + "</dependency>"


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path``, held across processes until the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_artifacts(
    dest: Path, artifacts: Sequence[MavenArtifact], *, transitive: bool = True
) -> Path:
    """Make sure ``dest`` holds the artifacts (and, if ``transitive``, their runtime
    dependencies) and return it. The first call runs Maven; later calls reuse the cache."""
    if (dest / _COMPLETE_MARKER).exists():
        return dest
    with file_lock(dest.parent / f".{dest.name}.lock"):
        if (dest / _COMPLETE_MARKER).exists():
            return dest
        mvn = shutil.which("mvn")
        if mvn is None:
            raise EmbeddedServiceError(
                "Maven (mvn) is needed to fetch jars from Maven Central;"
                " install it with 'apt-get install maven'"
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest.parent) as work:
            out = Path(work) / "lib"
            if transitive:
                pom = Path(work) / "pom.xml"
                pom.write_text(
                    '<project xmlns="http://maven.apache.org/POM/4.0.0">'
                    "<modelVersion>4.0.0</modelVersion>"
                    "<groupId>hub.embedded</groupId><artifactId>fetch</artifactId>"
                    "<version>1</version><packaging>pom</packaging><dependencies>"
                    + "".join(a.dependency_xml() for a in artifacts)
                    + "</dependencies></project>"
                )
                goals = [["-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime"]]
            else:
                # A bare copy needs no POM of ours and no parent POM of theirs.
                goals = [["dependency:copy", f"-Dartifact={a.coordinate}"] for a in artifacts]
            for goal in goals:
                _run_maven([mvn, "-B", "-q", *goal, f"-DoutputDirectory={out}"], artifacts, work)
            (out / _COMPLETE_MARKER).write_text("\n".join(a.dependency_xml() for a in artifacts))
            if dest.exists():
                shutil.rmtree(dest)
            out.rename(dest)
    return dest


def _run_maven(cmd: list[str], artifacts: Sequence[MavenArtifact], cwd: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise EmbeddedServiceError(
            "Maven could not fetch "
            + ", ".join(a.coordinate for a in artifacts)
            + " from Maven Central:\n"
            + "\n".join(tail)
        )
