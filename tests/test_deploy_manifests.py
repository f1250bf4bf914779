"""deploy/: the Dockerfile, the compose pilot, Prometheus and Grafana, and the Kubernetes
manifests, checked without Docker or a cluster.

Each check is a function that returns the problems it finds, so the tests below can
also show that a check catches a broken file (a misspelt ``HUB_*`` variable, a metric
hub/metrics.py does not define, a probe on an undeclared port).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import click
import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from connectors.catalog import CONNECTORS, connector_class
from connectors.sdk.health import Health
from connectors.sdk.health_server import HealthMetrics
from hub.cli import cli
from hub.embedded.kafka import KAFKA_VERSION
from hub.embedded.registry import APICURIO_VERSION, CCOMPAT_PATH
from hub.kafka_security import KafkaSecurity
from hub.metrics import HubMetrics
from hub.rules import RULES
from hub.rules.settings import load_institution_settings
from hub.settings import HubSettings
from hub.tickets.settings import TicketSettings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
K8S = DEPLOY / "k8s"
DASHBOARD_JSON = DEPLOY / "grafana" / "hub-dashboard.json"
PROMETHEUS_YML = COMPOSE_DIR / "prometheus" / "prometheus.yml"
KUBERNETES_VERSION = "1.32.0"

# Variables that are not the hub's settings but are set on purpose: faust reads WEB_BIND
# itself (it overrides the 127.0.0.1 the worker asks for, so /metrics is reachable).
NON_HUB_ENV = {"WEB_BIND"}
ALL_INTERFACES = ".".join("0" * 4)  # what WEB_BIND must say


# --------------------------------------------------------------------------- loading


def load_yaml_docs(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict[str, Any]:
    data = yaml.safe_load((COMPOSE_DIR / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def env_file_keys(path: Path, *, commented: bool = False) -> dict[str, str]:
    """KEY=VALUE lines of an env file (also ``# KEY=VALUE`` ones when ``commented``)."""
    found: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if commented:
            line = line.lstrip("#").strip()
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_.-]*)=(.*)", line)
        if match and (commented or not raw.lstrip().startswith("#")):
            found[match[1]] = match[2]
    return found


def kustomization() -> dict[str, Any]:
    data = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert isinstance(data, dict)
    return data


def k8s_objects() -> list[dict[str, Any]]:
    """Every object the kustomization's resources list (generators excluded)."""
    return [doc for name in kustomization()["resources"] for doc in load_yaml_docs(K8S / name)]


def k8s_generated() -> dict[tuple[str, str], set[str]]:
    """(kind, name) -> keys of the ConfigMaps and Secrets the generators make, with the
    keys read from the committed files (``.example`` for secrets, which stay out of git)."""
    made: dict[tuple[str, str], set[str]] = {}
    spec = kustomization()
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for generator in spec.get(key, []):
            keys: set[str] = set()
            for file in generator.get("files", []):
                keys.add(file.split("=")[0] if "=" in file else Path(file).name)
            for envs in generator.get("envs", []):
                keys |= set(env_file_keys(K8S / f"{envs}.example" if kind == "Secret" else envs))
            for literal in generator.get("literals", []):
                keys.add(literal.split("=", 1)[0])
            made[(kind, generator["name"])] = keys
    return made


def k8s_config_sources() -> dict[tuple[str, str], set[str]]:
    sources = k8s_generated()
    for obj in k8s_objects():
        if obj["kind"] in ("ConfigMap", "Secret"):
            keys = set(obj.get("data", {})) | set(obj.get("stringData", {}))
            sources[(obj["kind"], obj["metadata"]["name"])] = keys
    return sources


def workloads() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(object, pod template spec) of every Deployment, StatefulSet and Job."""
    for obj in k8s_objects():
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield obj, obj["spec"]["template"]["spec"]


# --------------------------------------------------------------------------- settings


def env_names(model: type[BaseSettings]) -> set[str]:
    """The environment variables a pydantic-settings model reads."""
    prefix = str(model.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in model.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(c).upper() for c in alias.choices if str(c).upper().startswith("HUB_")}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def required_env(model: type[BaseSettings]) -> set[str]:
    prefix = str(model.model_config.get("env_prefix", ""))
    return {f"{prefix}{n}".upper() for n, f in model.model_fields.items() if f.is_required()}


def connector_models() -> dict[str, type[BaseSettings]]:
    return {name: connector_class(name).settings_model for name in CONNECTORS}


def known_settings() -> set[str]:
    models: list[type[BaseSettings]] = [HubSettings, KafkaSecurity, TicketSettings]
    models += connector_models().values()
    return set().union(*(env_names(m) for m in models))


def unknown_hub_variables(texts: Mapping[str, str]) -> list[str]:
    """Every ``HUB_*`` name in the texts that no settings model reads."""
    known = known_settings()
    return [
        f"{where}: {name} is no setting of the hub"
        for where, text in texts.items()
        for name in sorted(set(re.findall(r"\bHUB_[A-Z0-9_]+\b", text)))
        if name not in known
    ]


def deployed_texts() -> dict[str, str]:
    files = [
        COMPOSE_DIR / "compose.yaml",
        COMPOSE_DIR / ".env.example",
        *(K8S / name for name in kustomization()["resources"]),
        K8S / "secrets.env.example",
        DEPLOY / "Dockerfile",
    ]
    return {str(f.relative_to(ROOT)): f.read_text() for f in files}


def required_for(args: list[str]) -> set[str]:
    """The variables a deployed component must be given, by its ``hub`` arguments."""
    needed = {"HUB_KAFKA_BOOTSTRAP_SERVERS", "HUB_SCHEMA_REGISTRY_URL"}
    if args[:1] == ["worker"]:
        needed |= {"HUB_PSEUDONYM_SECRET", "HUB_TABLE_STORE", "HUB_STATE_DIR"}
    if args[:2] == ["connector", "run"]:
        needed |= required_env(connector_class(args[2]).settings_model)
        needed.add("HUB_PSEUDONYM_SECRET")
    if args[:2] == ["tickets", "run"]:
        systems = {
            s.ticket_system or "servicenow"
            for s in load_institution_settings(r.rule_id for r in RULES).values()
        }
        credentials = {
            "rt": {"HUB_RT_URL", "HUB_RT_TOKEN"},
            "topdesk": {"HUB_TOPDESK_URL", "HUB_TOPDESK_USER", "HUB_TOPDESK_PASSWORD"},
            "servicenow": {"HUB_SERVICENOW_URL", "HUB_SERVICENOW_USER", "HUB_SERVICENOW_PASSWORD"},
        }
        for system in systems:
            needed |= credentials[system]
    return needed


def missing_settings(args: list[str], given: Mapping[str, str]) -> list[str]:
    needed = required_for(args)
    if given.get("HUB_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").startswith("SASL"):
        needed |= {"HUB_KAFKA_SASL_USERNAME", "HUB_KAFKA_SASL_PASSWORD"}
    problems = [
        f"hub {shlex.join(args)}: {name} is not given" for name in sorted(needed - set(given))
    ]
    if args[:1] == ["worker"] and not given.get("HUB_TABLE_STORE", "").startswith("rocksdb://"):
        problems.append("hub worker: HUB_TABLE_STORE is not rocksdb://")
    return problems


# --------------------------------------------------------------------------- commands


def command_problem(args: list[str]) -> str | None:
    """None when ``hub ARGS`` is a real command whose options parse, else why not."""
    command: click.Command = cli
    path = ["hub"]
    rest = list(args)
    while isinstance(command, click.Group):
        if not rest:
            return f"{shlex.join(path)} needs a subcommand"
        name = rest.pop(0)
        sub = command.get_command(click.Context(command), name)
        if sub is None:
            return f"{shlex.join(path)} has no command {name!r}"
        command, path = sub, [*path, name]
    try:
        command.make_context(shlex.join(path), list(rest))
    except click.ClickException as exc:
        return f"hub {shlex.join(args)}: {exc.format_message()}"
    if path[1:3] == ["connector", "run"] and rest[0] not in CONNECTORS:
        return f"hub {shlex.join(args)}: no connector named {rest[0]!r}"
    return None


def compose_hub_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if "university-hub" in str(service.get("image", ""))
    }


def k8s_hub_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for obj, pod in workloads():
        for container in pod["containers"]:
            if container["image"].startswith("university-hub"):
                yield obj["metadata"]["name"], container


# --------------------------------------------------------------------------- metrics


def metric_families() -> list[Any]:
    """The worker's (hub/metrics.py) and a connector's (connectors/sdk/health_server.py)."""
    return [*HubMetrics().registry.collect(), *HealthMetrics(Health(), "x").collect()]


def exposed_metrics() -> set[str]:
    """The sample names the hub exposes (``_total``, ``_bucket`` and so on)."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "gauge": ("",),
    }
    names: set[str] = set()
    for family in metric_families():
        names |= {family.name + suffix for suffix in suffixes[family.type]}
    return names


# What else the dashboard may read: Prometheus' own `up`.
SCRAPE_METRICS = {"up"}

_PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "inf", "nan",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # label values
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match[0].lower() in _PROMQL_WORDS:
            continue  # a function or an operator
        names.add(match[0])
    return names


def unknown_metrics(exprs: Iterable[str]) -> list[str]:
    allowed = exposed_metrics() | SCRAPE_METRICS
    return [
        f"{expr!r} reads {name}, which nothing exposes"
        for expr in exprs
        for name in sorted(metric_names(expr) - allowed)
    ]


def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD_JSON.read_text())
    assert isinstance(data, dict)
    return data


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


# --------------------------------------------------------------------------- kubernetes


def port_problems(containers: Iterable[dict[str, Any]]) -> list[str]:
    """Probes that use a port the container does not declare."""
    problems = []
    for c in containers:
        declared = {p["containerPort"] for p in c.get("ports", [])}
        declared |= {p["name"] for p in c.get("ports", []) if "name" in p}
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = c.get(kind) or {}
            for handler in ("httpGet", "tcpSocket", "grpc"):
                if handler in probe and probe[handler]["port"] not in declared:
                    problems.append(f"{c['name']}: {kind} port {probe[handler]['port']} undeclared")
    return problems


def service_problems(objects: list[dict[str, Any]]) -> list[str]:
    """Services that select no pod, or whose targetPort no selected container declares."""
    problems = []
    pods = [
        (o["spec"]["template"]["metadata"]["labels"], o)
        for o in objects
        if "template" in o.get("spec", {})
    ]
    for svc in (o for o in objects if o["kind"] == "Service"):
        selector = svc["spec"]["selector"]
        chosen = [o for labels, o in pods if selector.items() <= labels.items()]
        if not chosen:
            problems.append(f"Service {svc['metadata']['name']} selects no pod")
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for o in chosen:
                declared = {
                    key
                    for c in o["spec"]["template"]["spec"]["containers"]
                    for p in c.get("ports", [])
                    for key in (p["containerPort"], p.get("name"))
                }
                if target not in declared:
                    problems.append(
                        f"Service {svc['metadata']['name']}: targetPort {target} is not a"
                        f" containerPort of {o['metadata']['name']}"
                    )
    return problems


def reference_problems() -> list[str]:
    """ConfigMaps and Secrets (and their keys) that the pods use but nothing makes."""
    sources = k8s_config_sources()
    problems = []
    for obj, pod in workloads():
        where = obj["metadata"]["name"]
        for volume in pod.get("volumes", []):
            if "configMap" in volume and ("ConfigMap", volume["configMap"]["name"]) not in sources:
                problems.append(f"{where}: no ConfigMap {volume['configMap']['name']}")
            if "secret" in volume and ("Secret", volume["secret"]["secretName"]) not in sources:
                problems.append(f"{where}: no Secret {volume['secret']['secretName']}")
        for c in pod["containers"]:
            for ref in c.get("envFrom", []):
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in ref and (kind, ref[key]["name"]) not in sources:
                        problems.append(f"{where}: no {kind} {ref[key]['name']}")
            for env in c.get("env", []):
                source = env.get("valueFrom", {})
                for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    if key in source:
                        name, item = source[key]["name"], source[key]["key"]
                        if item not in sources.get((kind, name), set()):
                            problems.append(
                                f"{where}: {env['name']} wants {kind} {name} key {item}"
                            )
    return problems


def container_env(container: Mapping[str, Any]) -> dict[str, str]:
    """What a container's environment holds (a secret's value stands as its key)."""
    sources = k8s_config_sources()
    given: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        if "configMapRef" in ref:
            for obj in k8s_objects():
                if (
                    obj["kind"] == "ConfigMap"
                    and obj["metadata"]["name"] == ref["configMapRef"]["name"]
                ):
                    given.update(obj.get("data", {}))
        if "secretRef" in ref:
            given.update(
                dict.fromkeys(sources.get(("Secret", ref["secretRef"]["name"]), ()), "secret")
            )
    for env in container.get("env", []):
        given[env["name"]] = str(
            env.get("value", "from " + next(iter(env.get("valueFrom", {"?": 0}))))
        )
    return given


# =========================================================================== tests


def test_every_yaml_and_json_file_in_deploy_parses() -> None:
    files = [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]
    assert len(files) >= 15
    for path in files:
        assert load_yaml_docs(path), f"{path} is empty"
    assert dashboard()["panels"]


def test_the_dockerfile_builds_a_non_root_hub_image_from_the_constraints() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"pip install -c constraints\.txt", text)
    assert re.search(r'^ENTRYPOINT \["hub"\]$', text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user, "the image must not run as root"
    assert user[-1].split(":")[0] not in ("root", "0")
    for source in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for part in source.split():
            assert (ROOT / part).exists(), f"COPY {part}: no such file in the repository"
    extras = re.search(r"ARG EXTRAS=(\S+)", text)
    assert extras
    optional = _pyproject()["project"]["optional-dependencies"]
    for extra in extras[1].split(","):
        assert extra in optional, f"the image installs the extra {extra}, which pyproject lacks"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env"} <= set(ignored)


def _pyproject() -> dict[str, Any]:
    import tomllib  # noqa: PLC0415

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_rocksdb_extra_is_the_driver_faust_uses() -> None:
    rocksdb_module = (
        Path(__import__("faust").__file__).parent / "stores" / "rocksdb.py"
    ).read_text()
    assert "import rocksdict" in rocksdb_module  # faust-streaming 0.15 prefers rocksdict
    extra = _pyproject()["project"]["optional-dependencies"]["rocksdb"]
    assert any(req.startswith("rocksdict") for req in extra)
    pins = (ROOT / "constraints.txt").read_text().split()
    assert any(pin.startswith("rocksdict==") for pin in pins)


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.Draft7Validator(schema)  # its $schema is draft-07 (without '#')
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []
    broken = {**compose(), "services": {"x": {"image": "a", "depends_on": {"y": {"condition": 3}}}}}
    assert list(validator.iter_errors(broken)), "the schema must catch a bad file"


def test_the_compose_services_refer_only_to_what_is_declared() -> None:
    spec = compose()
    services = spec["services"]
    for name, service in services.items():
        assert "image" in service or "build" in service, f"{name} has neither image nor build"
        depends = service.get("depends_on", [])
        for other in depends if isinstance(depends, list) else depends.keys():
            assert other in services, f"{name} depends on an unknown service {other}"
        mode = service.get("network_mode", "")
        if mode.startswith("service:"):
            assert mode.removeprefix("service:") in services
            assert "networks" not in service
            assert "ports" not in service
        for network in service.get("networks", []):
            assert network in spec["networks"], f"{name}: network {network} is not declared"
        for volume in service.get("volumes", []):
            match = re.match(r"(\$\{[^}]*\}|[^:]+):", volume)
            assert match, f"{name}: volume {volume} has no target"
            source = match[1]
            if source.startswith("${"):
                assert source[2:].split(":")[0] in env_file_keys(COMPOSE_DIR / ".env.example")
            elif source.startswith((".", "/")):
                assert (COMPOSE_DIR / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in spec["volumes"], f"{name}: volume {source} is not declared"
        for env_file in service.get("env_file", []):
            assert (COMPOSE_DIR / f"{env_file}.example").is_file()
            assert env_file in (COMPOSE_DIR / ".gitignore").read_text().split()


def test_the_compose_pins_the_kafka_and_registry_versions_the_hub_runs() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert services["registry"]["image"] == f"apicurio/apicurio-registry:{APICURIO_VERSION}"
    env = compose()["x-hub"]["environment"]
    assert env["HUB_SCHEMA_REGISTRY_URL"].endswith(CCOMPAT_PATH)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_every_hub_variable_named_is_a_setting() -> None:
    assert unknown_hub_variables(deployed_texts()) == []
    env_example = (COMPOSE_DIR / ".env.example").read_text()
    assert unknown_hub_variables({".env.example": env_example}) == []
    misspelt = {"compose.yaml": "HUB_KAFKA_BOOTSTRAP_SERVER: kafka:9092\nHUB_DFO_BASEURL: x"}
    assert len(unknown_hub_variables(misspelt)) == 2
    non_hub = set(
        re.findall(r"^\s+([A-Z][A-Z0-9_]+):", deployed_texts()["deploy/k8s/workers.yaml"])
    )
    assert non_hub - known_settings() <= NON_HUB_ENV


def test_every_variable_compose_interpolates_is_in_the_env_example() -> None:
    text = (COMPOSE_DIR / "compose.yaml").read_text()
    interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    example = env_file_keys(COMPOSE_DIR / ".env.example")
    assert interpolated <= set(example), interpolated - set(example)
    for key, value in example.items():
        secretish = re.search(r"SECRET|PASSWORD|TOKEN|API_KEY", key)
        if secretish:
            assert "REPLACE" in value, f"{key} in .env.example must be a placeholder"


def test_every_compose_component_is_given_its_required_settings() -> None:
    anchor_env = compose()["x-hub"]["environment"]
    example = env_file_keys(COMPOSE_DIR / ".env.example")
    services = compose_hub_services()
    assert services
    for name, service in services.items():
        given = {**example, **anchor_env, **service.get("environment", {})}
        assert missing_settings(service["command"], given) == [], name
    assert missing_settings(["worker"], anchor_env) != []
    without_url = {k: v for k, v in example.items() if k != "HUB_DFO_BASE_URL"}
    assert "HUB_DFO_BASE_URL" in " ".join(
        missing_settings(["connector", "run", "dfo-employee"], without_url)
    )


def test_every_hub_command_in_the_manifests_is_a_real_cli_command() -> None:
    commands = [service["command"] for service in compose_hub_services().values()]
    commands += [c["args"] for _, c in k8s_hub_containers()]
    assert len(commands) >= 15
    assert [command_problem(args) for args in commands] == [None] * len(commands)
    assert command_problem(["tickets", "start"]) is not None
    assert command_problem(["connector", "run", "dfo-employe"]) is not None
    assert command_problem(["dashboard", "--prot", "8080"]) is not None


def test_every_connector_of_the_catalogue_is_deployed_once() -> None:
    in_compose = [
        s["command"][2]
        for s in compose_hub_services().values()
        if s["command"][:2] == ["connector", "run"]
    ]
    in_k8s = [
        c["args"][2] for _, c in k8s_hub_containers() if c["args"][:2] == ["connector", "run"]
    ]
    assert sorted(in_compose) == sorted(CONNECTORS)
    assert sorted(in_k8s) == sorted(CONNECTORS)
    for obj, _ in workloads():
        if obj["metadata"]["name"].startswith("connector-"):
            assert obj["kind"] == "Deployment"
            assert obj["spec"]["replicas"] == 1


def connector_proxies() -> dict[str, tuple[int, int]]:
    """Connector service -> (the port its proxy listens on, the port it forwards to)."""
    proxies = {}
    for service in compose()["services"].values():
        if service.get("network_mode", "").startswith("service:"):
            listen = re.fullmatch(r"TCP-LISTEN:(\d+),fork,reuseaddr", service["command"][0])
            forward = re.fullmatch(r"TCP:127\.0\.0\.1:(\d+)", service["command"][1])
            assert listen, service["command"]
            assert forward, service["command"]
            proxies[service["network_mode"].removeprefix("service:")] = (
                int(listen[1]),
                int(forward[1]),
            )
    return proxies


def test_prometheus_scrapes_every_worker_and_every_connector() -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {
        name: {t for group in job["static_configs"] for t in group["targets"]}
        for name, job in jobs.items()
    }
    services = compose()["services"]
    workers = {
        f"{name}:{s['environment']['HUB_WORKER_WEB_PORT']}"
        for name, s in compose_hub_services().items()
        if s["command"] == ["worker"]
    }
    assert len(workers) == 2
    assert targets["hub-workers"] == workers
    assert jobs["hub-workers"]["metrics_path"] == "/metrics"
    for name in workers:
        assert services[name.split(":")[0]]["environment"]["WEB_BIND"] == ALL_INTERFACES
    proxies = connector_proxies()
    assert {p.removeprefix("connector-") for p in proxies} == set(CONNECTORS)
    assert targets["hub-connectors"] == {
        f"{name}:{listen}" for name, (listen, _) in proxies.items()
    }
    assert jobs["hub-connectors"]["metrics_path"] == "/metrics"
    for name, (_, forward) in proxies.items():
        command = services[name]["command"]
        assert command[command.index("--health-port") + 1] == str(forward)


def test_the_dashboard_asks_every_connector_for_its_health() -> None:
    dashboard_service = compose()["services"]["dashboard"]["command"]
    urls = {
        a.removeprefix("--connector=") for a in dashboard_service if a.startswith("--connector=")
    }
    assert urls == {f"http://{name}:{listen}" for name, (listen, _) in connector_proxies().items()}
    (k8s_dashboard,) = [c for name, c in k8s_hub_containers() if name == "dashboard"]
    k8s_urls = {
        a.removeprefix("--connector=") for a in k8s_dashboard["args"] if "--connector=" in a
    }
    services = {
        (o["metadata"]["name"], p["port"])
        for o in k8s_objects()
        if o["kind"] == "Service"
        for p in o["spec"]["ports"]
    }
    assert len(k8s_urls) == len(CONNECTORS)
    for url in k8s_urls:
        host, port = url.removeprefix("http://").split(":")
        assert (host, int(port)) in services, url


def test_prometheus_config_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package 'prometheus')")
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(PROMETHEUS_YML)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_reads_only_metrics_the_hub_exposes() -> None:
    exprs = dashboard_exprs()
    assert unknown_metrics(exprs) == []
    used = set().union(*(metric_names(e) for e in exprs))
    for family in metric_families():
        assert any(name.startswith(family.name) for name in used), f"no panel shows {family.name}"
    assert unknown_metrics(["sum(rate(hub_record_in_total[5m]))"]) != []
    assert unknown_metrics(['hub_findings{rule="x"}']) != []  # the counter is hub_findings_total
    assert metric_names(
        "histogram_quantile(0.95, sum by (le) (rate(hub_source_to_task_seconds_bucket[5m])))"
    ) == {"hub_source_to_task_seconds_bucket"}


def test_the_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package 'prometheus')")
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:q{i}", "expr": e}
                    for i, e in enumerate(dashboard_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisions_the_datasource_and_the_dashboard_compose_mounts() -> None:
    provisioning = COMPOSE_DIR / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    uids = {d["uid"] for d in datasources["datasources"]}
    assert {d["url"] for d in datasources["datasources"]} == {"http://prometheus:9090"}
    for panel in dashboard()["panels"]:
        assert panel["datasource"]["uid"] in uids, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in uids
    providers = yaml.safe_load((provisioning / "dashboards" / "hub.yaml").read_text())
    paths = {p["options"]["path"] for p in providers["providers"]}
    mounts = dict(v.split(":")[:2] for v in compose()["services"]["grafana"]["volumes"])
    mounted = [target for source, target in mounts.items() if source.endswith("hub-dashboard.json")]
    assert mounted
    assert str(Path(mounted[0]).parent) in paths
    assert (COMPOSE_DIR / "../grafana/hub-dashboard.json").resolve() == DASHBOARD_JSON
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(ids) == len(set(ids))


def test_the_kubernetes_objects_follow_the_kubernetes_schemas() -> None:
    problems = []
    for obj in k8s_objects():
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: {exc.message}")
    assert problems == []
    broken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "one"},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "institutions.yaml"}
    assert on_disk - listed == {"podmonitor.example.yaml"}
    for generator in kustomization()["secretGenerator"]:
        for envs in generator["envs"]:
            assert (K8S / f"{envs}.example").is_file()
            assert envs in (K8S / ".gitignore").read_text().split(), f"{envs} must stay out of git"


def test_selectors_match_their_pod_templates() -> None:
    for obj, _ in workloads():
        if obj["kind"] == "Job":
            continue
        selector = obj["spec"]["selector"]["matchLabels"]
        labels = obj["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), obj["metadata"]["name"]


def test_probes_and_services_use_declared_ports() -> None:
    containers = [c for _, pod in workloads() for c in pod["containers"]]
    assert port_problems(containers) == []
    assert service_problems(k8s_objects()) == []
    bad = {"name": "w", "ports": [{"name": "web", "containerPort": 6066}],
           "livenessProbe": {"httpGet": {"path": "/metrics", "port": 6067}}}  # fmt: skip
    assert port_problems([bad]) != []
    objects = k8s_objects()
    for obj in objects:
        if obj["kind"] == "Service":
            obj["spec"]["ports"][0]["targetPort"] = "nope"
    assert service_problems(objects) != []


def test_the_workers_are_a_statefulset_with_a_rocksdb_volume() -> None:
    (sts,) = [o for o in k8s_objects() if o["kind"] == "StatefulSet"]
    services = {o["metadata"]["name"]: o for o in k8s_objects() if o["kind"] == "Service"}
    assert services[sts["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    env = container_env(container)
    assert env["HUB_TABLE_STORE"] == "rocksdb://"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[env["HUB_STATE_DIR"]] in claims
    partitions = yaml.safe_load((DEPLOY / "topics.yaml").read_text())
    person_events = (
        partitions["topics"]["hub.person-events"].get("partitions")
        or partitions["defaults"]["partitions"]
    )
    assert 1 <= sts["spec"]["replicas"] <= person_events
    annotations = sts["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == env["HUB_WORKER_WEB_PORT"]
    assert env["WEB_BIND"] == ALL_INTERFACES
    assert {p["containerPort"] for p in container["ports"]} == {int(env["HUB_WORKER_WEB_PORT"])}
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]


def test_the_secrets_and_configmaps_the_pods_use_exist() -> None:
    assert reference_problems() == []
    for _, container in k8s_hub_containers():
        refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
        assert {"hub-config", "hub-secrets"} <= refs
    example = env_file_keys(K8S / "secrets.env.example")
    assert all("REPLACE" in value for value in example.values())


def test_every_kubernetes_component_is_given_its_required_settings() -> None:
    for name, container in k8s_hub_containers():
        assert missing_settings(container["args"], container_env(container)) == [], name
        assert container["resources"]["requests"], name
    config = next(o for o in k8s_objects() if o["metadata"]["name"] == "hub-config")
    without_user = {k: v for k, v in config["data"].items()}
    assert missing_settings(["dashboard"], without_user) != []  # SASL needs a user and password


def test_the_clusters_institutions_file_is_valid() -> None:
    settings = load_institution_settings((r.rule_id for r in RULES), K8S / "institutions.yaml")
    assert set(settings) == {"uib", "uio", "uit", "ntnu"}
    config = next(o for o in k8s_objects() if o["metadata"]["name"] == "hub-config")
    mount = next(
        m["mountPath"]
        for _, c in k8s_hub_containers()
        for m in c["volumeMounts"]
        if m["name"] == "institutions"
    )
    assert config["data"]["HUB_INSTITUTIONS_FILE"] == f"{mount}/institutions.yaml"


def test_kubectl_kustomize_assembles_the_manifests(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (Debian package 'kubectl'); kustomize not run")
    work = tmp_path / "k8s"
    shutil.copytree(K8S, work)
    for example in work.glob("*.env.example"):
        shutil.copy(example, work / example.name.removesuffix(".example"))
    result = subprocess.run(
        [kubectl, "kustomize", str(work)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(result.stdout) if doc)
    assert kinds.count("Deployment") == len(CONNECTORS) + 2
    assert {"StatefulSet", "Job", "Secret", "ConfigMap", "Namespace"} <= set(kinds)
    assembled = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert all(
        doc["metadata"].get("namespace", "university-hub") == "university-hub" for doc in assembled
    )
