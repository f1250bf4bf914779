"""A real Apicurio Registry (Confluent-compatible API) run from Maven Central.

Apicurio publishes its runnable Quarkus application as the ``all`` zip of
``io.apicurio:apicurio-registry-app``; it stores schemas in memory (H2) and serves
the Confluent API under ``/apis/ccompat/v7``.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from hub.embedded.maven import MavenArtifact, fetch_artifacts, file_lock
from hub.embedded.process import free_port, port_in_use
from hub.embedded.service import LocalJavaService, StartResult
from hub.errors import EmbeddedServiceError

__all__ = ["APICURIO_VERSION", "CCOMPAT_PATH", "LocalRegistry"]

APICURIO_VERSION = "3.0.9"
CCOMPAT_PATH = "/apis/ccompat/v7"
DEFAULT_PORT = 8081

_ARTIFACT = MavenArtifact(
    "io.apicurio", "apicurio-registry-app", APICURIO_VERSION, classifier="all", type="zip"
)


class LocalRegistry(LocalJavaService):
    """Apicurio Registry with in-memory storage, under ``instance_dir``."""

    name = "registry"

    def __init__(
        self, instance_dir: Path, cache_dir: Path, port: int | None = None, heap_mb: int = 384
    ) -> None:
        super().__init__(instance_dir)
        self.download_dir = cache_dir / f"apicurio-{APICURIO_VERSION}" / "download"
        self.app_dir = cache_dir / f"apicurio-{APICURIO_VERSION}" / "app"
        self.port = port
        self.heap_mb = heap_mb

    @property
    def version(self) -> str:
        return APICURIO_VERSION

    @property
    def runner_jar(self) -> Path:
        return self.app_dir / f"apicurio-registry-app-{APICURIO_VERSION}-runner.jar"

    @property
    def install_dir(self) -> Path:
        return self.app_dir

    def install(self) -> None:
        if self.runner_jar.exists():
            return
        download = fetch_artifacts(self.download_dir, [_ARTIFACT], transitive=False)
        with file_lock(self.app_dir.parent / ".unzip.lock"):
            if self.runner_jar.exists():
                return
            archives = sorted(download.glob("*.zip"))
            if not archives:
                raise EmbeddedServiceError(f"no Apicurio zip arrived in {download}")
            staging = self.app_dir.with_name("app.partial")
            shutil.rmtree(staging, ignore_errors=True)
            with zipfile.ZipFile(archives[0]) as archive:
                archive.extractall(staging)
            # The zip holds one folder (or none) with the runner jar and lib/.
            runners = list(staging.rglob("*-runner.jar"))
            if not runners:
                raise EmbeddedServiceError(f"{archives[0]} holds no *-runner.jar")
            runners[0].parent.rename(self.app_dir)
            shutil.rmtree(staging, ignore_errors=True)

    def choose_ports(self) -> dict[str, int]:
        if self.port:
            return {"http": self.port}
        if self.port is None and not port_in_use(DEFAULT_PORT):
            return {"http": DEFAULT_PORT}
        return {"http": free_port()}

    def address(self, ports: dict[str, int]) -> str:
        return f"http://127.0.0.1:{ports['http']}{CCOMPAT_PATH}"

    def is_ready(self, address: str) -> bool:
        base = address.removesuffix(CCOMPAT_PATH)
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=2) as response:  # noqa: S310 - loopback URL we built
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def start(self, timeout: float = 120.0) -> StartResult:
        """Start the registry and make BACKWARD compatibility its global rule, so a
        new version of a subject must read data written with the one before."""
        result = super().start(timeout=timeout)
        request = urllib.request.Request(  # noqa: S310 - loopback URL we built
            f"{result.record.address}/config",
            data=json.dumps({"compatibility": "BACKWARD"}).encode(),
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
            method="PUT",
        )
        try:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                pass
        except (urllib.error.URLError, OSError) as exc:
            raise EmbeddedServiceError(
                f"the registry at {result.record.address} refused its compatibility rule: {exc}"
            ) from exc
        return result

    def command(self, ports: dict[str, int]) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise EmbeddedServiceError(
                "Java 17 or later is needed to run the registry; install it with"
                " 'apt-get install openjdk-17-jre-headless'"
            )
        return [
            java,
            f"-Xmx{self.heap_mb}m",
            f"-Dhub.instance={self.instance_dir}/",
            "-Dquarkus.http.host=127.0.0.1",
            f"-Dquarkus.http.port={ports['http']}",
            # Same schema text with other whitespace finds the same id.
            "-Dapicurio.ccompat.use-canonical-hash=true",
            "-jar",
            str(self.runner_jar),
        ]
