"""The hub's settings, read from ``HUB_*`` environment variables (and a ``.env`` file).

Settings are frozen; secrets are :class:`pydantic.SecretStr` and print as ``**********``.
Leave ``HUB_KAFKA_BOOTSTRAP_SERVERS`` unset to use the embedded broker that
``hub kafka start`` runs, and ``HUB_SCHEMA_REGISTRY_URL`` unset to use the
embedded registry (``hub registry start``) or, when that is off, Avro
single-object encoding with ``schemas/avro/`` as the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigurationError

__all__ = ["HubSettings", "load_model", "load_settings"]

_DEV_SECRET = "dev-only-pseudonym-secret-change-me"  # noqa: S105 - the published dev default


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "hub"


def _default_state_dir() -> Path:
    return Path.home() / ".local" / "state" / "hub"


class HubSettings(BaseSettings):
    """Everything the hub reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_file=".env", extra="ignore", frozen=True
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="host:port[,host:port]; unset means the embedded broker.",
    )
    schema_registry_url: str | None = Field(
        default=None,
        description="Base URL of a Confluent-compatible registry API; unset means embedded.",
    )
    wire_format: Literal["auto", "confluent", "single-object"] = Field(
        default="auto",
        description=(
            "How Avro records are framed. 'auto' uses the Confluent format when a"
            " registry is configured or running, and single-object encoding otherwise."
        ),
    )
    app_id: str = Field(default="university-hub", description="The faust app id.")
    topic_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9._-]*$",
        description="Put before every topic name and the app id (isolates test runs).",
    )
    table_store: str = Field(
        default="memory://", description="faust table store: memory:// or rocksdb://"
    )
    institution: Literal["uib", "uio", "uit", "ntnu"] = "uio"
    clock: Literal["wall", "event"] = Field(
        default="wall",
        description="'wall' for production; 'event' for replays and simulations.",
    )
    institutions_file: Path = Field(
        default=Path(__file__).resolve().parents[1] / "deploy" / "institutions.yaml",
        description="Rule settings per institution: enabled rules, lead days, queues.",
    )
    pseudonym_secret: SecretStr = Field(
        default=SecretStr(_DEV_SECRET),
        description="HMAC key that turns national IDs and passports into pseudonyms.",
    )
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    state_dir: Path = Field(default_factory=_default_state_dir)
    worker_web_port: int = Field(default=6066, ge=0, le=65535)
    worker_session_timeout_seconds: float = Field(
        default=60.0,
        ge=6,
        le=300,
        description="How long a silent worker keeps its partitions before others take them.",
    )
    rocksdb_write_buffer_mb: int = Field(
        default=4,
        ge=1,
        le=1024,
        description=(
            "RocksDB table store: the size of each memtable, two per table partition"
            " (docs/operations.md has the worker's memory sum)."
        ),
    )
    rocksdb_block_cache_mb: int = Field(
        default=8,
        ge=1,
        le=4096,
        description="RocksDB table store: the read cache of each table partition.",
    )
    worker_commit_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description=(
            "How often a worker commits the offsets it has processed; a replay's barriers"
            " wait for the commits, so a replay's worker commits more often."
        ),
    )
    worker_fetch_wait_ms: int = Field(
        default=100,
        ge=1,
        le=1500,
        description=(
            "How long a worker's fetch may wait at the broker for new records. A partition"
            " with records not yet processed is left out of the fetch in flight, so a"
            " record arriving there waits until that fetch returns: at faust's 1,500 ms,"
            " up to 1.5 s per hop."
        ),
    )
    worker_gc_thresholds: tuple[int, int, int] = Field(
        default=(10_000, 50, 100),
        description=(
            "The worker's garbage collector thresholds (Python's gc.set_threshold), as"
            " JSON: [young, middle, old]. Python's (700, 10, 10) make the collector walk"
            " the correlation index and the tables over and over; these cost a worker 6-8%"
            " less CPU per record at 10,000 people (docs/benchmarks.md)."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("worker_gc_thresholds")
    @classmethod
    def _collector_runs(cls, value: tuple[int, int, int]) -> tuple[int, int, int]:
        if min(value) < 1:
            raise ValueError("every threshold must be at least 1 (0 would turn the collector off)")
        return value

    @property
    def uses_dev_secret(self) -> bool:
        """True while the pseudonym secret is the published development default."""
        return self.pseudonym_secret.get_secret_value() == _DEV_SECRET


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_model(model: type[SettingsT], what: str, **overrides: object) -> SettingsT:
    """Read a settings model from the environment, or raise a :class:`ConfigurationError`
    that names each bad variable (``what`` says whose settings they are)."""
    prefix = str(model.model_config.get("env_prefix", ""))
    try:
        return model(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{prefix}{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid {what} settings: {problems}") from exc


def load_settings(**overrides: object) -> HubSettings:
    """Read settings from the environment, or raise a :class:`ConfigurationError`
    that names each bad field."""
    return load_model(HubSettings, "hub", **overrides)
