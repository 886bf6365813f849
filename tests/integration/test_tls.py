"""gRPC over TLS and mutual TLS: a real registry server on port 0 with certificates from the dev PKI;
clients that trust the CA get through, plaintext and strangers do not; the CLI (`--ca/--cert/--key`),
the health probe and verification's consent client use the same settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import grpc
import pytest

from likeness.registry.v1 import registry_pb2 as reg
from likeness.registry.v1 import registry_pb2_grpc
from likeness_common.healthcheck import check
from likeness_common.tls import ClientTls, DevPki, aio_channel, make_dev_pki

from ..conftest import Stack, bearer

LIKENESS = str(Path(sys.executable).parent / "likeness")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return make_dev_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    """Another CA's certificates: valid, but not trusted by the server or the clients."""
    return make_dev_pki(tmp_path_factory.mktemp("stranger"))


async def _serve(pool: asyncpg.Pool, **tls: Path) -> AsyncIterator[str]:
    from registry.bootstrap import RegistrySettings, build_app

    app = build_app(pool, RegistrySettings(port=0, shutdown_grace_seconds=0.5, **tls))
    port = await app.start()
    yield f"localhost:{port}"
    await app.stop()


@pytest.fixture(scope="module")
async def tls_target(pool: asyncpg.Pool, pki: DevPki) -> AsyncIterator[str]:
    async for target in _serve(pool, tls_cert_file=pki.server_cert, tls_key_file=pki.server_key):
        yield target


@pytest.fixture(scope="module")
async def mtls_target(pool: asyncpg.Pool, pki: DevPki) -> AsyncIterator[str]:
    async for target in _serve(pool, tls_cert_file=pki.server_cert, tls_key_file=pki.server_key, tls_client_ca_file=pki.ca):
        yield target


async def whoami(target: str, tls: ClientTls | None, api_key: str) -> str:
    async with aio_channel(target, tls) as channel:
        reply = await registry_pb2_grpc.RegistryServiceStub(channel).WhoAmI(reg.WhoAmIRequest(), metadata=bearer(api_key), timeout=5)
    return reg.PrincipalKind.Name(reply.kind)


async def test_tls_server_answers_clients_that_trust_its_ca_and_refuses_plaintext(tls_target, pki, stranger, stack: Stack):
    assert await whoami(tls_target, ClientTls(pki.ca), stack.operator_key) == "PRINCIPAL_KIND_OPERATOR"
    with pytest.raises(grpc.aio.AioRpcError) as plaintext:
        await whoami(tls_target, None, stack.operator_key)
    assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(grpc.aio.AioRpcError) as untrusted:  # a server certificate from a CA we do not trust
        await whoami(tls_target, ClientTls(stranger.ca), stack.operator_key)
    assert untrusted.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_requires_a_client_certificate_from_the_configured_ca(mtls_target, pki, stranger, stack: Stack):
    assert await whoami(mtls_target, pki.client(), stack.operator_key) == "PRINCIPAL_KIND_OPERATOR"
    for tls in (ClientTls(pki.ca), ClientTls(pki.ca, stranger.client_cert, stranger.client_key)):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await whoami(mtls_target, tls, stack.operator_key)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_health_probe_speaks_tls_when_given_the_files(mtls_target, tls_target, pki):
    assert await _in_thread(check, mtls_target, "", 3.0, pki.client())
    assert not await _in_thread(check, mtls_target, "", 3.0, ClientTls(pki.ca))  # no client certificate
    assert await _in_thread(check, tls_target, "", 3.0, ClientTls(pki.ca))
    assert not await _in_thread(check, tls_target, "", 3.0, ClientTls())  # plaintext to a TLS port


async def test_cli_takes_ca_cert_and_key(mtls_target, pki, stack: Stack, tmp_path):
    env = {**os.environ, "LIKENESS_TARGET": mtls_target, "LIKENESS_API_KEY": stack.operator_key,
           "LIKENESS_DEV_JSON": str(tmp_path / "absent.json")}  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([LIKENESS, *args, "whoami", "--json"], env=env, capture_output=True, text=True, timeout=60)

    done = await _in_thread(cli, "--ca", str(pki.ca), "--cert", str(pki.client_cert), "--key", str(pki.client_key))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] == "operator"
    refused = await _in_thread(cli, "--ca", str(pki.ca))  # TLS but no client certificate
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"]["code"] == "UNAVAILABLE"
    half = await _in_thread(cli, "--ca", str(pki.ca), "--cert", str(pki.client_cert))
    assert half.returncode == 1 and "needs its key" in json.loads(half.stdout)["error"]["message"]


async def test_settings_refuse_half_a_tls_configuration(pki):
    from pydantic import ValidationError

    from registry.bootstrap import RegistrySettings

    with pytest.raises(ValidationError, match="go together"):
        RegistrySettings(tls_cert_file=pki.server_cert)
    with pytest.raises(ValidationError, match="mutual TLS"):
        RegistrySettings(tls_client_ca_file=pki.ca)


async def _in_thread(fn, *args):
    import asyncio

    return await asyncio.to_thread(fn, *args)


async def test_verification_reaches_consent_over_mutual_tls(stack: Stack, pool: asyncpg.Pool, pki: DevPki):
    """Verification's consent client with CommonSettings.client_tls(): through with the client
    certificate (the consent service answers: here INVALID_ARGUMENT, an operator must name the
    platform), an outage without."""
    from consent.bootstrap import ConsentSettings, build_app
    from likeness_common.crypto import load_kek
    from likeness_common.errors import InvalidArgument, Unavailable
    from likeness_common.ids import new_id
    from verification.adapters.consent_client import ConsentClient
    from verification.domain.model import Modality

    settings = ConsentSettings(port=0, shutdown_grace_seconds=0.5, expiry_sweep_seconds=3600,
                               tls_cert_file=pki.server_cert, tls_key_file=pki.server_key, tls_client_ca_file=pki.ca)  # fmt: skip
    app = build_app(pool, stack.dsn, load_kek(None, stack.kek_file), settings)
    target = f"localhost:{await app.start()}"
    try:
        for tls, expected in ((pki.client(), InvalidArgument), (ClientTls(pki.ca), Unavailable), (None, Unavailable)):
            client = ConsentClient(target, tls, timeout_seconds=3)
            try:
                with pytest.raises(expected):
                    await client.for_caller(stack.operator_key).check(new_id("tal"), Modality.FACE, "ADVERTISING", "", "US", "")
            finally:
                await client.close()
    finally:
        await app.stop()
