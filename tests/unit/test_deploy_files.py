"""docker-compose.yml and the Dockerfile agree with the code (no Docker engine needed)."""

from __future__ import annotations

import re
from pathlib import Path

from likeness_common.topics import ALL_TOPICS
from likeness_devstack import SERVICES, WEB
from tests.deploy_support import ROOT, compose, split_image

INDEX_ENGINE = "LIKENESS_VERIFICATION_INDEX_ENGINE"
QDRANT_PREFIX = "LIKENESS_VERIFICATION_QDRANT_"


def test_every_service_runs_with_a_grpc_healthcheck_on_its_own_port():
    services = compose()["services"]
    for name, module in SERVICES.items():
        spec = services[name]
        assert spec["command"] == ["python", "-m", module]
        env = spec["environment"]
        port = env[f"LIKENESS_{module.upper()}_PORT"]
        assert env[f"LIKENESS_{module.upper()}_HOST"] == "0.0.0.0"
        assert spec["healthcheck"]["test"] == ["CMD", "python", "-m", "likeness_common.healthcheck", f"127.0.0.1:{port}"]
        assert env["LIKENESS_KEK_FILE"] == "/run/secrets/kek" and "kek" in spec["secrets"]
        assert spec["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["verification"]["environment"]["LIKENESS_VERIFICATION_CONSENT_TARGET"] == f"consent:{services['consent']['environment']['LIKENESS_CONSENT_PORT']}"
    assert services["relay"]["command"] == ["python", "-m", "likeness_common.relay"] and services["relay"]["deploy"]["replicas"] == 2


def test_every_web_front_end_runs_with_an_http_healthcheck_on_its_own_port():
    services = compose()["services"]
    assert WEB
    for name, module in WEB.items():
        spec, prefix = services[name], f"LIKENESS_{module.upper()}_"
        assert spec["command"] == ["python", "-m", module]
        env = spec["environment"]
        port = env[f"{prefix}PORT"]
        assert env[f"{prefix}HOST"] == "0.0.0.0"
        assert [p.rpartition(":")[2] for p in spec["ports"]] == [port]  # published on the port it serves
        assert spec["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
        assert f"http://127.0.0.1:{port}/healthz" in " ".join(spec["healthcheck"]["test"])
        for service, service_module in SERVICES.items():  # every service by its compose name and port
            service_port = services[service]["environment"][f"LIKENESS_{service_module.upper()}_PORT"]
            assert env[f"{prefix}{service.upper()}_TARGET"] == f"{service}:{service_port}"
            assert spec["depends_on"][service]["condition"] == "service_healthy"
        assert "secrets" not in spec and not any(k.startswith("LIKENESS_KEK") or k == "LIKENESS_DATABASE_URL" for k in env)


def test_the_image_exposes_every_service_and_web_port():
    services = compose()["services"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    exposed = [int(p) for line in re.findall(r"^EXPOSE (.+)$", dockerfile, re.M) for p in line.split()]
    ports = {int(services[name]["environment"][f"LIKENESS_{m.upper()}_PORT"]) for name, m in {**SERVICES, **WEB}.items()}
    assert sorted(exposed) == sorted(ports)


def test_topic_init_creates_exactly_the_code_topics():
    script = "\n".join(compose()["services"]["kafka-init"]["command"])
    created = {m[0]: (int(m[1]), int(m[2])) for m in re.findall(r"^\s*create (\S+) (\d+) (\d+)$", script, re.M)}
    assert created == {t.name: (t.partitions, t.retention_ms) for t in ALL_TOPICS}


def test_no_secret_is_inlined_and_the_image_runs_as_non_root():
    doc = compose()
    assert doc["secrets"]["postgres_password"] == {"environment": "POSTGRES_PASSWORD"}
    assert doc["secrets"]["qdrant_api_key"] == {"environment": "QDRANT_API_KEY"}
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${POSTGRES_PASSWORD:?" in text and not re.search(r"PASSWORD:\s*['\"]?\w", text.replace("POSTGRES_PASSWORD_FILE", ""))
    dockerfile = (ROOT / "Dockerfile").read_text()
    converter, build, final = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    assert re.search(r"^USER 10001$", final, re.M)
    assert "requirements/bio.txt" in build and "requirements/bio-nodeps.txt" in build
    # the service image carries no torch or librosa: both networks run on numpy. Torch converts the
    # voice weights in a stage of its own, and the image takes only the converted file from it.
    assert converter.startswith("python:3.11-slim AS voice-weights") and "bio-reference" in converter
    assert "bio-reference" not in build + final
    assert re.findall(r"^COPY --from=(\S+) (\S+)", build + final, re.M) == [("voice-weights", "/out/"), ("build", "/venv")]
    runtime = (ROOT / "requirements" / "bio.txt").read_text().lower()
    assert not re.search(r"^(torch|librosa)\b", runtime, re.M)


def test_setup_and_the_image_write_the_voice_weights_where_the_loader_looks():
    from likeness_biometrics.models import VOICE_WEIGHTS_FILE

    # voice_weights_path() defaults to <sys.prefix>/share/likeness/<file>: .venv here, /venv in the image
    assert f"VOICE_WEIGHTS := $(VENV)/share/likeness/{VOICE_WEIGHTS_FILE}\n" in (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"scripts/convert_voice_weights.py /out/{VOICE_WEIGHTS_FILE}\n" in dockerfile
    assert "COPY --from=voice-weights /out/ /venv/share/likeness/\n" in dockerfile
    assert re.search(r"^ENV PATH=/venv/bin:", dockerfile, re.M)


def test_every_process_serves_metrics_on_the_compose_network():
    services = compose()["services"]
    for name, module in SERVICES.items():
        env = services[name]["environment"]
        port = env[f"LIKENESS_{module.upper()}_METRICS_PORT"]
        assert env[f"LIKENESS_{module.upper()}_HOST"] == "0.0.0.0" and port in services[name]["expose"], name
    relay = services["relay"]
    assert relay["environment"]["LIKENESS_RELAY_METRICS_HOST"] == "0.0.0.0"
    assert relay["environment"]["LIKENESS_RELAY_METRICS_PORT"] in relay["expose"]


def test_the_image_does_not_ship_the_dev_stack():
    from setuptools.config.pyprojecttoml import read_configuration

    import likeness_devstack

    # What `pip install .` installs: setuptools' own reading of pyproject.toml's package discovery.
    installed = read_configuration(ROOT / "pyproject.toml", expand=True)["tool"]["setuptools"]["packages"]
    assert {"likeness_common", "likeness_biometrics", "likeness_cli", "registry", "verification"} <= set(installed)
    assert Path(likeness_devstack.__file__).resolve() == ROOT / "libs" / "likeness_devstack" / "__init__.py"
    assert not [p for p in installed if p.split(".")[0] == "likeness_devstack" or p.rpartition(".")[2] == "devstack"]
    # The build stage installs the project as a wheel (not editable: libs/ stays behind in /src) and
    # the final stage takes only that venv from it.
    dockerfile = (ROOT / "Dockerfile").read_text()
    build, final = re.split(r"^FROM ", dockerfile, flags=re.M)[2:]
    assert re.search(r"pip install --no-deps \.( |$)", build, re.M) and " -e " not in build
    assert re.findall(r"^(?:COPY|ADD) .*$", final, re.M) == ["COPY --from=build /venv /venv"]


def test_qdrant_runs_a_pinned_release_with_a_readiness_healthcheck_and_its_own_volume():
    doc = compose()
    qdrant = doc["services"]["qdrant"]
    name, _, tag = split_image(qdrant["image"])
    assert name == "qdrant/qdrant" and re.fullmatch(r"v\d+\.\d+\.\d+", tag)  # a release, not latest
    check = qdrant["healthcheck"]
    assert check["test"][0] == "CMD" and "/readyz" in check["test"][-1] and check["retries"] >= 1
    assert "curl" not in check["test"][-1] and "wget" not in check["test"][-1]  # the image has neither
    [volume] = [v for v in qdrant["volumes"] if v.endswith(":/qdrant/storage")]
    assert volume.split(":")[0] in doc["volumes"]  # a named volume, not the container's layer
    # The API key: from the compose secret into Qdrant's variable at start, never a literal here.
    assert qdrant["secrets"] == ["qdrant_api_key"]
    script = "\n".join(qdrant["command"])
    assert qdrant["entrypoint"] == ["/bin/bash", "-c"] and "/run/secrets/qdrant_api_key" in script and "exec ./entrypoint.sh" in script
    assert "QDRANT__SERVICE__API_KEY" not in qdrant.get("environment", {}) and "ports" not in qdrant  # not published


def test_verification_and_enrollment_use_the_qdrant_index_once_it_is_healthy():
    services = compose()["services"]
    qdrant_port = services["qdrant"]["expose"][0]
    seen = []
    for name in ("verification", "enrollment"):  # enrollment's duplicate check searches the same index
        spec = services[name]
        env = spec["environment"]
        assert env[INDEX_ENGINE] == "qdrant", name
        assert env[f"{QDRANT_PREFIX}URL"] == f"http://qdrant:{qdrant_port}", name
        assert env[f"{QDRANT_PREFIX}API_KEY_FILE"] == "/run/secrets/qdrant_api_key" and "qdrant_api_key" in spec["secrets"], name
        assert spec["depends_on"]["qdrant"]["condition"] == "service_healthy", name
        seen.append({k: v for k, v in env.items() if k == INDEX_ENGINE or k.startswith(QDRANT_PREFIX)})
    assert seen[0] == seen[1]  # one index, the same settings
