"""deploy/k8s (kustomize base + production overlay) agrees with the code and docker-compose.yml.

Rendered with tests/deploy_support.render (no kustomize binary, no cluster needed)."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from likeness_common.settings import CommonSettings, RelaySettings, ServiceSettings
from likeness_common.topics import ALL_TOPICS
from likeness_devstack import SERVICES, STARTS_AFTER, WEB
from tests.deploy_support import (
    K8S,
    ROOT,
    Unsupported,
    compose,
    containers,
    dockerfile_user,
    find,
    load_documents,
    of_kind,
    render,
    split_image,
)

BASE = K8S / "base"
PRODUCTION = K8S / "overlays" / "production"
OVERLAYS = pytest.mark.parametrize("overlay", [BASE, PRODUCTION], ids=["base", "production"])
PREFIXES = {**{name: f"LIKENESS_{module.upper()}_" for name, module in SERVICES.items()}, "relay": "LIKENESS_RELAY_"}
WEB_PREFIXES = {name: f"LIKENESS_{module.upper()}_" for name, module in WEB.items()}  # HTTP front ends
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
VERIFICATION_RSS_GIB = 0.4  # README, Benchmarks: verification RSS 408 MiB after a run with its worker pools
COHORT_FILE = "LIKENESS_VERIFICATION_VOICE_COHORT_FILE"  # voice score normalization (deploy/README.md, Voice cohort)
# The 1:N index engine (deploy/README.md, Qdrant (cluster mode)): embedded (the default) in the base and every
# overlay but production, which runs it in cluster mode against the Qdrant StatefulSet of deploy/k8s/qdrant.
ENGINE = "LIKENESS_VERIFICATION_INDEX_ENGINE"
QDRANT_SETTINGS = "LIKENESS_VERIFICATION_QDRANT_"
QDRANT = "qdrant"  # the StatefulSet and the Service the services call
OTHER_OVERLAYS = sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists() and p != PRODUCTION)


def config(docs: list[dict]) -> dict[str, str]:
    return find(docs, "ConfigMap", "likeness-config")["data"]


def pod_env(docs: list[dict], container: dict) -> dict[str, str | dict]:
    """What the container sees: ConfigMap values from envFrom, then `env` (values or valueFrom)."""
    env: dict[str, str | dict] = {}
    for source in container.get("envFrom", []):
        env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in container.get("env", []):
        env[var["name"]] = var.get("value", var.get("valueFrom"))
    return env


def settings_classes() -> list[type]:
    for module in SERVICES.values():
        importlib.import_module(f"{module}.bootstrap")
    return [CommonSettings, RelaySettings, *ServiceSettings.__subclasses__(), *map(web_settings_class, WEB.values())]


def web_settings_class(module: str) -> type[BaseSettings]:
    """A WEB front end's settings: the one BaseSettings class of its bootstrap with its own prefix."""
    bootstrap = importlib.import_module(f"{module}.bootstrap")
    [cls] = [
        c for c in vars(bootstrap).values()
        if isinstance(c, type) and issubclass(c, BaseSettings) and c.model_config.get("env_prefix") == f"LIKENESS_{module.upper()}_"
    ]  # fmt: skip
    return cls


def env_names(cls: type) -> dict[str, object]:
    prefix = cls.model_config["env_prefix"]
    return {f"{prefix}{name}".upper(): field for name, field in cls.model_fields.items()}


def quantity(value: str | int) -> float:
    """Kubernetes CPU or memory quantity as a number (cores or bytes)."""
    number, unit = re.fullmatch(r"([\d.]+)(m|Ki|Mi|Gi)?", str(value)).groups()
    return float(number) * {None: 1, "m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[unit]


def service_port(module: str, data: dict[str, str]) -> int:
    return int(data[f"LIKENESS_{module.upper()}_PORT"])


def deployment_pods(docs: list[dict]) -> dict[str, dict]:
    return {name: d["spec"]["template"]["metadata"]["labels"] for name, d in of_kind(docs, "Deployment").items()}


def workloads(docs: list[dict]) -> dict[str, dict]:
    """Deployments and StatefulSets by name (the names are unique across both here)."""
    found = {**of_kind(docs, "Deployment"), **of_kind(docs, "StatefulSet")}
    assert len(found) == len(of_kind(docs, "Deployment")) + len(of_kind(docs, "StatefulSet"))
    return found


def workload_pods(docs: list[dict]) -> dict[str, dict]:
    return {name: d["spec"]["template"]["metadata"]["labels"] for name, d in workloads(docs).items()}


def runs_our_image(doc: dict) -> bool:
    """A workload of the project's own image (every service, the relay, the console), not a vendor's (Qdrant)."""
    return all(split_image(c["image"])[0].rpartition("/")[2] == "likeness-registry" for c in containers(doc))


def index_readers() -> set[str]:
    """The services that build the 1:N index from VerificationSettings: verification, and enrollment's duplicate check."""
    bootstrap = {name: (ROOT / "services" / module / "bootstrap.py").read_text() for name, module in SERVICES.items()}
    return {name for name, source in bootstrap.items() if "VerificationSettings" in source}


def index_settings(env: dict) -> dict:
    return {k: v for k, v in env.items() if k == ENGINE or k.startswith(QDRANT_SETTINGS)}


def parsed_settings(docs: list[dict], monkeypatch) -> dict[str, object]:
    """Every settings class instantiated from the ConfigMap, by env prefix (raises on a value pydantic refuses)."""
    for key, value in config(docs).items():
        monkeypatch.setenv(key, value)
    return {cls.model_config["env_prefix"]: cls() for cls in settings_classes()}


def nginx_size(value: str) -> int:
    """An nginx size (client_max_body_size): bytes, or k / m / g (powers of 1024)."""
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", value.lower()).groups()
    return int(number) * 1024 ** " kmg".index(unit or " ")


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


@OVERLAYS
def test_every_service_has_a_deployment_and_a_service_with_grpc_probes_on_its_port(overlay):
    docs = render(overlay)
    data = config(docs)
    compose_services = compose()["services"]
    for name, module in SERVICES.items():
        deployment = find(docs, "Deployment", name)
        [container] = containers(deployment, init=False)
        assert container["command"] == ["python", "-m", module] == compose_services[name]["command"]
        port = service_port(module, data)
        assert port == int(compose_services[name]["environment"][f"LIKENESS_{module.upper()}_PORT"])
        assert data[f"LIKENESS_{module.upper()}_HOST"] == "0.0.0.0"
        assert {p["name"]: p["containerPort"] for p in container["ports"]}["grpc"] == port
        for probe in PROBES:
            assert container[probe]["grpc"] == {"port": port}, (name, probe)
        [service_port_spec] = find(docs, "Service", name)["spec"]["ports"]
        assert service_port_spec["port"] == port and service_port_spec["targetPort"] in ("grpc", port)


@OVERLAYS
def test_every_web_front_end_has_a_deployment_and_a_service_with_http_probes_on_its_port(overlay, monkeypatch):
    docs = render(overlay)
    data = config(docs)
    parsed = parsed_settings(docs, monkeypatch)
    compose_services = compose()["services"]
    assert WEB
    for name, module in WEB.items():
        settings = parsed[WEB_PREFIXES[name]]
        deployment = find(docs, "Deployment", name)
        [container] = containers(deployment)
        assert container["command"] == ["python", "-m", module] == compose_services[name]["command"]
        assert settings.host == "0.0.0.0"
        assert settings.port == int(compose_services[name]["environment"][f"{WEB_PREFIXES[name]}PORT"])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": settings.port}, name
        routes = {route.path for route in importlib.import_module(f"{module}.bootstrap").build_app(settings).routes}
        scheme = "HTTPS" if getattr(settings, "tls_cert_file", None) else "HTTP"
        for probe in PROBES:  # the devstack's readiness check too: GET /healthz
            get = container[probe]["httpGet"]
            assert get["path"] == "/healthz" in routes and get["port"] in (settings.port, "http"), (name, probe)
            assert get.get("scheme", "HTTP") == scheme, (name, probe)
        [service_port_spec] = find(docs, "Service", name)["spec"]["ports"]
        assert service_port_spec["port"] == settings.port and service_port_spec["targetPort"] in ("http", settings.port)
        # It calls every service through its Service (host name) on the port that service serves.
        targets = {field: getattr(settings, field) for field in type(settings).model_fields if field.endswith("_target")}
        assert sorted(targets) == sorted(f"{service}_target" for service in SERVICES)
        for field, target in targets.items():
            host, port = target.rsplit(":", 1)
            assert host == field.removesuffix("_target") and int(port) == service_port(SERVICES[host], data)
            assert [p["port"] for p in find(docs, "Service", host)["spec"]["ports"]] == [int(port)]
        # No database, no KEK: no Secret at all. No /metrics: no scrape annotation.
        env = pod_env(docs, container)
        assert "LIKENESS_DATABASE_URL" not in env and not any(isinstance(v, dict) for v in env.values()), name
        pod = deployment["spec"]["template"]
        assert not any("secret" in v for v in pod["spec"].get("volumes", [])), name
        serves_metrics = any("metrics" in field for field in type(settings).model_fields)
        assert ("prometheus.io/scrape" in pod["metadata"].get("annotations", {})) == serves_metrics, name


@OVERLAYS
def test_web_front_ends_keep_one_replica_and_a_budget_that_lets_it_be_evicted(overlay):
    """Sessions live in the process's memory (services/console/adapters/sessions.py): a second replica would
    need cookie affinity at the ingress (deploy/README.md). With one, a budget must not block drains."""
    docs = render(overlay)
    pods = deployment_pods(docs)
    for name in WEB:
        assert find(docs, "Deployment", name)["spec"]["replicas"] == 1
        budgets = of_kind(docs, "PodDisruptionBudget").values()
        [budget] = [b["spec"] for b in budgets if selects(b["spec"]["selector"]["matchLabels"], pods[name])]
        assert budget.get("maxUnavailable", 0) >= 1 or budget.get("minAvailable") == 0, name


@OVERLAYS
def test_every_likeness_variable_is_a_real_setting_and_parses(overlay, monkeypatch):
    docs = render(overlay)
    classes = settings_classes()
    known = {name for cls in classes for name in env_names(cls)}
    data = config(docs)
    assert {k for k in data if k.startswith("LIKENESS_")} <= known
    parsed = parsed_settings(docs, monkeypatch)
    for module in SERVICES.values():
        assert parsed[f"LIKENESS_{module.upper()}_"].port == service_port(module, data)
    host, port = parsed["LIKENESS_VERIFICATION_"].consent_target.split(":")
    assert [p["port"] for p in find(docs, "Service", host)["spec"]["ports"]] == [int(port)]


def test_base_settings_equal_compose_for_every_service_variable():
    data = config(render(BASE))
    for name, prefix in {**PREFIXES, **WEB_PREFIXES}.items():
        env = compose()["services"][name]["environment"]
        # (compose requires a cohort, the base cannot: below; compose runs the index in cluster mode, the base embedded)
        own = {k: v for k, v in env.items() if k.startswith(prefix) and k != COHORT_FILE and not index_settings({k: v})}
        assert {k: data.get(k) for k in own} == own
        assert own or name == "relay"  # every service sets at least its host and port


def test_the_voice_cohort_is_mounted_read_only_where_its_variable_points_and_required_only_where_set():
    """Compose and the production overlay name the cohort file, and a named file that is missing
    stops the service (a misconfiguration); the base mounts the same ConfigMap as optional and
    leaves the variable unset, so a cluster without the ConfigMap starts on raw cosine thresholds."""
    readers = index_readers()
    assert readers == {"enrollment", "verification"}  # enrollment's dispute check judges voices as verification does
    path = PurePosixPath(config(render(PRODUCTION))[COHORT_FILE])
    assert COHORT_FILE not in config(render(BASE))
    services = compose()["services"]
    assert {name for name, spec in services.items() if COHORT_FILE in spec.get("environment", {})} == readers
    for name in readers:
        assert services[name]["environment"][COHORT_FILE] == str(path) and f"./cohort:{path.parent}:ro" in services[name]["volumes"]
    for overlay in (BASE, PRODUCTION):
        docs = render(overlay)
        for name in SERVICES:
            pod = find(docs, "Deployment", name)["spec"]["template"]["spec"]
            [container] = pod["containers"]
            volumes = [v for v in pod["volumes"] if v.get("configMap", {}).get("name") == "likeness-voice-cohort"]
            assert bool(volumes) == (name in readers), name
            for volume in volumes:
                assert volume["configMap"]["optional"] is True
                [mount] = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
                assert mount["mountPath"] == str(path.parent) and mount["readOnly"] is True
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert "kubectl create configmap likeness-voice-cohort" in readme and f"--from-file={path.name}=" in readme


def test_kafka_bootstrap_is_the_strimzi_cluster_of_the_topics():
    docs = render(BASE)
    clusters = {t["metadata"]["labels"]["strimzi.io/cluster"] for t in of_kind(docs, "KafkaTopic").values()}
    assert len(clusters) == 1
    assert config(docs)["LIKENESS_KAFKA_BOOTSTRAP"] == f"{clusters.pop()}-kafka-bootstrap:9092"


@OVERLAYS
def test_every_process_serves_metrics_where_prometheus_scrapes(overlay, monkeypatch):
    docs = render(overlay)
    parsed = parsed_settings(docs, monkeypatch)
    for name, prefix in PREFIXES.items():
        settings = parsed[prefix]
        assert getattr(settings, "metrics_host", getattr(settings, "host", None)) == "0.0.0.0"
        template = find(docs, "Deployment", name)["spec"]["template"]
        [container] = template["spec"]["containers"]
        assert {p["name"]: p["containerPort"] for p in container["ports"]}["metrics"] == settings.metrics_port
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == str(settings.metrics_port)


@OVERLAYS
def test_every_container_has_resource_requests_and_limits(overlay):
    docs = render(overlay)
    pods = [d for d in docs if containers(d)]
    # the services, the web front ends, the relay, and in production the Qdrant peers
    assert len(pods) == len(SERVICES) + len(WEB) + 1 + (overlay == PRODUCTION)
    for doc in pods:
        for container in containers(doc):
            resources = container["resources"]
            for kind in ("cpu", "memory"):
                request, limit = quantity(resources["requests"][kind]), quantity(resources["limits"][kind])
                assert 0 < request <= limit, (doc["metadata"]["name"], container["name"], kind)
    [verification] = containers(find(docs, "Deployment", "verification"), init=False)
    assert quantity(verification["resources"]["requests"]["memory"]) >= VERIFICATION_RSS_GIB * 2**30


def test_no_secret_value_is_in_the_repository_or_the_manifests():
    for path in sorted((ROOT / "deploy").rglob("*.y*ml")):
        for doc in load_documents(path):
            assert not (doc.get("kind") == "Secret" and ({"data", "stringData"} & set(doc))), path
    secret_settings = {
        name for cls in settings_classes() for name, field in env_names(cls).items() if field.annotation in (SecretStr, SecretStr | None)
    } | {"LIKENESS_DATABASE_URL"}  # the DSN carries the password
    assert "LIKENESS_KEK" in secret_settings
    referenced = set()
    for overlay in (BASE, PRODUCTION):
        docs = render(overlay)
        assert not secret_settings & set(config(docs))
        for doc in docs:
            for container in containers(doc):
                for var in container.get("env", []):
                    looks_secret = var["name"] in secret_settings or re.search(r"PASSWORD|SECRET|TOKEN|_KEY$", var["name"])
                    assert not looks_secret or var["valueFrom"]["secretKeyRef"], var
                    referenced |= {var["valueFrom"]["secretKeyRef"]["name"]} if "valueFrom" in var else set()
            referenced |= {v["secret"]["secretName"] for v in doc.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", []) if "secret" in v}
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert referenced == {"likeness-database", "likeness-kek", "likeness-c2pa-signing", "likeness-qdrant"}
    assert all(f"kubectl create secret generic {name}" in readme for name in referenced)
    certificates = {t["secretName"] for i in of_kind(render(PRODUCTION), "Ingress").values() for t in i["spec"]["tls"]}
    assert certificates and all(f"kubectl create secret tls {name}" in readme for name in certificates)


@OVERLAYS
def test_the_kek_is_mounted_from_its_secret_where_a_service_loads_it(overlay):
    docs = render(overlay)
    kek_file = PurePosixPath(config(docs)["LIKENESS_KEK_FILE"])
    for name, module in {**SERVICES, **WEB}.items():
        pod = find(docs, "Deployment", name)["spec"]["template"]["spec"]
        [container] = pod["containers"]
        kek_volumes = {v["name"] for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "likeness-kek"}
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        loads_kek = "load_kek()" in (ROOT / "services" / module / "__main__.py").read_text()
        assert bool(kek_volumes) == loads_kek, name  # only the services that use the key get it
        for volume in kek_volumes:
            assert mounts[volume]["mountPath"] == str(kek_file.parent) and mounts[volume]["readOnly"] is True
    assert kek_file.name == "kek"  # the key in Secret likeness-kek, as deploy/README.md creates it


@OVERLAYS
def test_pods_run_as_the_image_user_on_a_read_only_root_file_system(overlay):
    for doc in render(overlay):
        if not containers(doc):
            continue
        pod = doc["spec"]["template"]["spec"]
        ours = runs_our_image(doc)  # a vendor's image (Qdrant) runs as a non-root user of its own
        assert pod["securityContext"]["runAsNonRoot"] is True
        user = pod["securityContext"]["runAsUser"]
        assert (user == dockerfile_user()) if ours else (user > 0), doc["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in containers(doc):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
        for container in pod["containers"] if ours else []:  # Python and the media decoders write to /tmp
            assert any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in container["volumeMounts"])


def test_kafka_topics_equal_the_code_topics():
    topics = of_kind(render(PRODUCTION), "KafkaTopic")
    assert {t["apiVersion"] for t in topics.values()} == {"kafka.strimzi.io/v1beta2"}
    rendered = {
        t["spec"].get("topicName", name): (t["spec"]["partitions"], int(t["spec"]["config"]["retention.ms"]))
        for name, t in topics.items()
    }
    assert rendered == {t.name: (t.partitions, t.retention_ms) for t in ALL_TOPICS}


@OVERLAYS
def test_the_autoscaler_owns_the_verification_replica_count(overlay):
    docs = render(overlay)
    [hpa] = of_kind(docs, "HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "verification"}
    assert "replicas" not in find(docs, "Deployment", "verification")["spec"]  # or every apply resets the HPA's count
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"  # a utilization target needs the cpu request, set above


@OVERLAYS
def test_selectors_of_services_and_disruption_budgets_match_workload_pods(overlay):
    docs = render(overlay)
    pods = workload_pods(docs)
    for name, workload in workloads(docs).items():
        assert selects(workload["spec"]["selector"]["matchLabels"], pods[name])
    for name, service in of_kind(docs, "Service").items():
        [selected] = [p for p, labels in pods.items() if selects(service["spec"]["selector"], labels)]
        assert name in (selected, workloads(docs)[selected]["spec"].get("serviceName")), name  # or a headless Service
    budgets = of_kind(docs, "PodDisruptionBudget")
    assert {b["apiVersion"] for b in budgets.values()} == {"policy/v1"}
    covered = [p for b in budgets.values() for p, labels in pods.items() if selects(b["spec"]["selector"]["matchLabels"], labels)]
    assert sorted(covered) == sorted(pods)  # every Deployment and StatefulSet exactly one budget


@OVERLAYS
def test_the_relay_runs_as_compose_runs_it_with_a_standby(overlay):
    relay = compose()["services"]["relay"]
    deployment = find(render(overlay), "Deployment", "relay")
    [container] = containers(deployment)
    assert container["command"] == relay["command"] == ["python", "-m", "likeness_common.relay"]
    assert deployment["spec"]["replicas"] == relay["deploy"]["replicas"] == 2


def test_services_wait_for_the_services_they_start_after():
    docs = render(BASE)
    data = config(docs)
    for name, dependencies in STARTS_AFTER.items():
        [wait] = find(docs, "Deployment", name)["spec"]["template"]["spec"]["initContainers"]
        script = " ".join(wait["command"])
        for dependency in dependencies:
            target = f"{dependency}:{service_port(SERVICES[dependency], data)}"
            assert f"python -m likeness_common.healthcheck {target}" in script


def test_migrations_run_where_compose_runs_them():
    """Services migrate at start (advisory lock); a migrate step in compose would need a Job here."""
    steps = [spec["command"] for name, spec in compose()["services"].items() if "migrat" in name]
    jobs = [c["command"] for job in of_kind(render(PRODUCTION), "Job").values() for c in containers(job)]
    assert jobs == steps


def test_production_overlay_sets_namespace_image_replicas_and_resources():
    base, production = render(BASE), render(PRODUCTION)
    assert all("namespace" not in d["metadata"] for d in base)
    assert {d["metadata"]["namespace"] for d in production} == {"likeness"}
    images = {c["image"] for d in production if runs_our_image(d) for c in containers(d)}
    assert len(images) == 1 and split_image(images.pop())[2] not in ("", "latest")
    assert [d["metadata"]["name"] for d in production if containers(d) and not runs_our_image(d)] == [QDRANT]
    for name in SERVICES.keys() - {"verification"}:
        assert find(production, "Deployment", name)["spec"]["replicas"] > find(base, "Deployment", name)["spec"]["replicas"]
    hpa = [find(docs, "HorizontalPodAutoscaler", "verification")["spec"]["minReplicas"] for docs in (base, production)]
    assert hpa[1] > hpa[0]
    for name in ("enrollment", "verification"):
        [small], [large] = (containers(find(docs, "Deployment", name), init=False) for docs in (base, production))
        for bound in ("requests", "limits"):
            assert quantity(large["resources"][bound]["cpu"]) > quantity(small["resources"][bound]["cpu"])
            assert quantity(large["resources"][bound]["memory"]) > quantity(small["resources"][bound]["memory"])
        workers = f"LIKENESS_{name.upper()}_WORKERS"
        assert int(config(production)[workers]) > int(config(base)[workers])


def test_production_serves_web_front_ends_through_a_tls_ingress_with_secure_cookies(monkeypatch):
    """TLS ends at the Ingress, so the console sees plain HTTP and must be told its cookies are Secure."""
    base, production = render(BASE), render(PRODUCTION)
    assert not of_kind(base, "Ingress")  # host names and certificates are the overlay's
    ingresses = of_kind(production, "Ingress")
    parsed = parsed_settings(production, monkeypatch)
    for name in WEB:
        settings = parsed[WEB_PREFIXES[name]]
        assert settings.secure_cookies is True and not settings.tls_cert_file
        [service_port_spec] = find(production, "Service", name)["spec"]["ports"]
        routes = [
            (ingress, rule) for ingress in ingresses.values() for rule in ingress["spec"]["rules"]
            if any(p["backend"]["service"]["name"] == name for p in rule["http"]["paths"])
        ]  # fmt: skip
        assert routes, name
        for ingress, rule in routes:
            assert ingress["apiVersion"] == "networking.k8s.io/v1"
            assert any(rule["host"] in t["hosts"] and t["secretName"] for t in ingress["spec"]["tls"]), rule["host"]
            for path in rule["http"]["paths"]:
                port = path["backend"]["service"]["port"]
                assert port in ({"name": service_port_spec["name"]}, {"number": service_port_spec["port"]})
            annotations = ingress["metadata"]["annotations"]  # ingress-nginx defaults: 1m bodies, 60 s reads
            assert nginx_size(annotations["nginx.ingress.kubernetes.io/proxy-body-size"]) >= settings.max_upload_bytes + 2**20
            assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > settings.rpc_timeout_seconds


# The 1:N index in cluster mode (issue 16): a Qdrant cluster in production, the embedded engine everywhere else.


def selector_matches(selector: dict, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels, and matchExpressions with In) against a pod's labels."""
    expressions = selector.get("matchExpressions", [])
    if set(selector) - {"matchLabels", "matchExpressions"} or any(e["operator"] != "In" for e in expressions):
        raise NotImplementedError(selector)
    return selects(selector.get("matchLabels", {}), labels) and all(labels.get(e["key"]) in e["values"] for e in expressions)


def peer_flags(container: dict, hostname: str, tmp_path: Path) -> list[str]:
    """The arguments the Qdrant container's start script gives the image's ./entrypoint.sh in the pod of that host name
    (the script run by bash, with a stand-in entrypoint.sh that prints them)."""
    (tmp_path / "entrypoint.sh").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    (tmp_path / "entrypoint.sh").chmod(0o755)
    command = [shutil.which("bash") if part == "/bin/bash" else part for part in container["command"] + container["args"]]
    env = {"HOSTNAME": hostname, "PATH": os.environ["PATH"]}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_production_runs_qdrant_as_a_cluster_of_at_least_three_peers(tmp_path):
    docs = render(PRODUCTION)
    qdrant = find(docs, "StatefulSet", QDRANT)
    spec, pod = qdrant["spec"], qdrant["spec"]["template"]["spec"]
    assert spec["replicas"] >= 3
    assert spec.get("podManagementPolicy") == "Parallel"  # OrderedReady can deadlock a restarted cluster on consensus
    [container] = containers(qdrant)
    env = {v["name"]: v for v in container["env"]}
    assert env["QDRANT__CLUSTER__ENABLED"] == {"name": "QDRANT__CLUSTER__ENABLED", "value": "true"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    p2p = int(env["QDRANT__CLUSTER__P2P__PORT"]["value"])
    assert ports["p2p"] == p2p and ports["http"] == int(env["QDRANT__SERVICE__HTTP_PORT"]["value"])
    # Peer discovery: the StatefulSet's headless Service names every pod, ready or not, on the p2p port.
    headless = find(docs, "Service", spec["serviceName"])["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert selects(headless["selector"], spec["template"]["metadata"]["labels"])
    assert any(p["port"] == p2p and p["targetPort"] in ("p2p", p2p) for p in headless["ports"])
    # Pod 0 starts the cluster; every other pod joins it through pod 0's p2p address.
    def uri(ordinal: int) -> str:
        return f"http://{QDRANT}-{ordinal}.{spec['serviceName']}:{p2p}"
    assert peer_flags(container, f"{QDRANT}-0", tmp_path) == ["--uri", uri(0)]
    for ordinal in range(1, spec["replicas"]):
        assert peer_flags(container, f"{QDRANT}-{ordinal}", tmp_path) == ["--bootstrap", uri(0), "--uri", uri(ordinal)]
    # Its data on a volume claim per pod, mounted where Qdrant stores it.
    claims = {c["metadata"]["name"]: c["spec"] for c in spec["volumeClaimTemplates"]}
    [storage] = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/qdrant/storage"]
    assert claims[storage]["accessModes"] == ["ReadWriteOnce"]
    assert quantity(claims[storage]["resources"]["requests"]["storage"]) >= 2**30
    assert not any(v["name"] == storage for v in pod.get("volumes", []))  # not shadowed by a pod volume
    # Ready only once it has joined consensus and its shards are up to date (/readyz needs no API key).
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["readinessProbe"]["httpGet"]["port"] in ("http", ports["http"])
    # The API key from a Secret, never a literal.
    api_key = env["QDRANT__SERVICE__API_KEY"]
    assert set(api_key) == {"name", "valueFrom"} and set(api_key["valueFrom"]["secretKeyRef"]) == {"name", "key"}
    # Two copies of a shard are on two nodes only if two peers never share one.
    [anti] = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti["topologyKey"] == "kubernetes.io/hostname"
    assert selects(anti["labelSelector"]["matchLabels"], spec["template"]["metadata"]["labels"])
    # The metrics Prometheus scrapes: the separate listener, which needs no API key.
    annotations = spec["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == env["QDRANT__SERVICE__METRICS_PORT"]["value"] == str(ports["metrics"])
    # One released version, the one docker-compose.yml runs.
    assert container["image"] == compose()["services"][QDRANT]["image"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", split_image(container["image"])[2])


def test_production_runs_the_index_in_cluster_mode_against_the_qdrant_service():
    docs = render(PRODUCTION)
    qdrant = find(docs, "StatefulSet", QDRANT)
    [server] = containers(qdrant)
    server_key = next(v for v in server["env"] if v["name"] == "QDRANT__SERVICE__API_KEY")["valueFrom"]["secretKeyRef"]
    service_ports = {p["name"]: p for p in find(docs, "Service", QDRANT)["spec"]["ports"]}
    http_port = next(p["containerPort"] for p in server["ports"] if p["name"] == "http")
    assert service_ports["http"]["targetPort"] in ("http", http_port)
    readers = index_readers()
    assert readers == {"enrollment", "verification"}  # enrollment's duplicate check searches the same index
    seen = []
    for name in sorted(readers):
        deployment = find(docs, "Deployment", name)
        [container] = containers(deployment, init=False)
        env = pod_env(docs, container)
        seen.append(index_settings(env))
        assert env[ENGINE] == "qdrant", name
        url = urlsplit(env[f"{QDRANT_SETTINGS}URL"])
        assert (url.scheme, url.hostname, url.port) == ("http", QDRANT, service_ports["http"]["port"]), name
        shards, copies = int(env[f"{QDRANT_SETTINGS}SHARDS"]), int(env[f"{QDRANT_SETTINGS}REPLICATION_FACTOR"])
        assert 2 <= copies <= qdrant["spec"]["replicas"]  # a peer down loses no shard; every copy on its own peer
        assert shards >= qdrant["spec"]["replicas"]  # every peer holds shards
        # The API key file: in a read-only mount of the Secret (and key) the Qdrant server reads.
        key_file = PurePosixPath(env[f"{QDRANT_SETTINGS}API_KEY_FILE"])
        pod = deployment["spec"]["template"]["spec"]
        [volume] = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == server_key["name"]]
        assert "items" not in volume["secret"] and key_file.name == server_key["key"]
        [mount] = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
        assert mount["mountPath"] == str(key_file.parent) and mount["readOnly"] is True
    assert all(settings == seen[0] for settings in seen)  # one index, the same settings for both
    budgets = [b["spec"] for b in of_kind(docs, "PodDisruptionBudget").values()
               if selects(b["spec"]["selector"]["matchLabels"], qdrant["spec"]["template"]["metadata"]["labels"])]  # fmt: skip
    [budget] = budgets
    assert 1 <= budget["maxUnavailable"] <= copies - 1  # a drain may take one peer, never every copy of a shard


def test_only_the_services_that_hold_the_index_and_the_peers_reach_qdrant():
    """The API key crosses the cluster network in plain HTTP: a NetworkPolicy keeps everyone else off Qdrant's ports."""
    docs = render(PRODUCTION)
    pods = workload_pods(docs)
    policies = of_kind(docs, "NetworkPolicy").values()
    [policy] = [p["spec"] for p in policies if selector_matches(p["spec"]["podSelector"], pods[QDRANT])]
    assert policy["policyTypes"] == ["Ingress"]
    allowed: dict[int, set[str] | None] = {}  # port -> the workloads whose pods may connect (None: anyone)
    for rule in policy["ingress"]:
        sources = {name for peer in rule.get("from", []) for name, labels in pods.items() if selector_matches(peer["podSelector"], labels)}
        for port in (p["port"] for p in rule["ports"]):
            anyone = "from" not in rule or (port in allowed and allowed[port] is None)
            allowed[port] = None if anyone else allowed.get(port, set()) | sources
    assert allowed[6333] == allowed[6334] == index_readers() | {QDRANT}  # REST, gRPC (peers: snapshot shard transfers)
    assert allowed[6335] == {QDRANT}  # p2p: the peers only
    assert set(allowed) == {6333, 6334, 6335, 9464} and allowed[9464] is None  # metrics: no API key, no vectors


@pytest.mark.parametrize("overlay", [BASE, *OTHER_OVERLAYS], ids=lambda p: p.name)
def test_everywhere_but_production_the_index_stays_embedded(overlay):
    """No LIKENESS_VERIFICATION_INDEX_ENGINE means the embedded engine; no Qdrant, no Qdrant key."""
    from verification.bootstrap import VerificationSettings

    assert VerificationSettings.model_fields["index_engine"].default == "embedded"
    docs = render(overlay)
    assert not of_kind(docs, "StatefulSet") and not of_kind(docs, "NetworkPolicy")
    for doc in docs:
        for container in containers(doc):
            env = pod_env(docs, container)
            assert env.get(ENGINE, "embedded") == "embedded" and not index_settings({k: v for k, v in env.items() if k != ENGINE})
        volumes = doc.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", [])
        assert not any(v.get("secret", {}).get("secretName") == "likeness-qdrant" for v in volumes)


def test_compose_and_production_call_the_same_qdrant_the_same_way():
    """Both run the index in cluster mode against a service named qdrant on the same port (the key file differs: compose's
    secrets live in /run/secrets, the Secret's mount in a folder of its own)."""
    production = index_settings(config(render(PRODUCTION)))
    for name in index_readers():
        env = index_settings(compose()["services"][name]["environment"])
        for key in (ENGINE, f"{QDRANT_SETTINGS}URL"):
            assert env[key] == production[key], (name, key)


# The renderer itself: it must do what kustomize does for the fields it accepts, and refuse the rest.


def write(directory: Path, files: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_text(yaml.safe_dump_all(content) if isinstance(content, list) else yaml.safe_dump(content))
    return directory


def deployment(name: str, image: str = "app:1") -> dict:
    container = {"name": name, "image": image, "env": [{"name": "A", "value": "1"}], "resources": {"limits": {"cpu": "1"}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}},
    }


def kustomization(**fields) -> dict:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **fields}


def test_renderer_merges_patches_by_container_name_and_applies_overlay_fields(tmp_path):
    write(tmp_path / "base", {
        "kustomization.yaml": kustomization(resources=["apps.yaml"], labels=[{"pairs": {"part": "x"}, "includeTemplates": True}]),
        "apps.yaml": [deployment("a"), deployment("b", "other:2")],
    })  # fmt: skip
    patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}, "spec": {"template": {"spec": {
        "containers": [{"name": "a", "resources": {"limits": {"memory": "1Gi"}}, "env": [{"name": "B", "value": "2"}]}]}}}}  # fmt: skip
    overlay = write(tmp_path / "overlay", {
        "kustomization.yaml": kustomization(resources=["../base"], namespace="ns", patches=[{"path": "patch.yaml"}],
                                            replicas=[{"name": "b", "count": 4}], images=[{"name": "app", "newName": "r.io/app", "newTag": "9"}]),
        "patch.yaml": patch,
    })  # fmt: skip
    a, b = render(overlay)
    [container] = containers(a)
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert container["image"] == "r.io/app:9" and containers(b)[0]["image"] == "other:2"
    assert (a["spec"]["replicas"], b["spec"]["replicas"]) == (1, 4)
    assert a["metadata"]["namespace"] == "ns" and a["spec"]["template"]["metadata"]["labels"] == {"app": "a", "part": "x"}


@pytest.mark.parametrize(
    "fields, files",
    [
        ({"commonLabels": {"a": "b"}}, {}),
        ({"labels": [{"pairs": {"a": "b"}, "includeSelectors": True}]}, {}),
        ({"patches": [{"path": "p.yaml"}]}, {"p.yaml": {"kind": "Deployment", "metadata": {"name": "missing"}}}),
        ({"patches": [{"path": "p.yaml"}]}, {"p.yaml": {"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"tolerations": []}}}),
    ],
    ids=["unknown field", "selector labels", "missing patch target", "list without a merge key"],
)
def test_renderer_refuses_what_it_does_not_implement(tmp_path, fields, files):
    write(tmp_path, {"kustomization.yaml": kustomization(resources=["a.yaml"], **fields), "a.yaml": deployment("a"), **files})
    with pytest.raises((Unsupported, LookupError)):
        render(tmp_path)


def test_the_c2pa_signing_chain_is_an_optional_secret_in_verification_required_only_in_production():
    chain, key = "LIKENESS_VERIFICATION_C2PA_CERT_CHAIN_FILE", "LIKENESS_VERIFICATION_C2PA_KEY_FILE"
    assert chain not in config(render(BASE)) and key not in config(render(BASE))
    production = config(render(PRODUCTION))
    paths = {PurePosixPath(production[chain]), PurePosixPath(production[key])}
    [folder] = {p.parent for p in paths}
    for overlay in (BASE, PRODUCTION):
        docs = render(overlay)
        for name in SERVICES:
            pod = find(docs, "Deployment", name)["spec"]["template"]["spec"]
            volumes = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "likeness-c2pa-signing"]
            assert bool(volumes) == (name == "verification"), name
            for volume in volumes:
                assert volume["secret"]["optional"] is True
                [mount] = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
                assert mount["mountPath"] == str(folder) and mount["readOnly"] is True
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert "kubectl create secret generic likeness-c2pa-signing" in readme and "--from-file=chain.pem=" in readme
