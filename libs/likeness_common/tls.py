"""TLS for gRPC: server credentials (optionally requiring a client certificate: mutual TLS), client
channels that use TLS when given a CA, and a throwaway PKI for the dev stack.

Server side, per service (`LIKENESS_<SERVICE>_TLS_CERT_FILE`, `..._TLS_KEY_FILE`, and for mutual TLS
`..._TLS_CLIENT_CA_FILE`): see `ServiceSettings`. Client side, for calls between services
(`LIKENESS_TLS_CA_FILE`, `LIKENESS_TLS_CLIENT_CERT_FILE`, `LIKENESS_TLS_CLIENT_KEY_FILE`): see
`CommonSettings.client_tls()`; the CLI takes the same three as `--ca`, `--cert`, `--key`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ClientTls", "DevPki", "aio_channel", "make_dev_pki", "server_credentials", "sync_channel"]


def _read(path: Path | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the TLS {what} file {path}: {exc.strerror}") from exc


def server_credentials(cert_file: Path, key_file: Path, client_ca_file: Path | None = None) -> grpc.ServerCredentials:
    """TLS with this certificate chain; with `client_ca_file`, clients must present a certificate
    signed by that CA (mutual TLS) or the handshake fails."""
    chain, key = _read(cert_file, "certificate"), _read(key_file, "key")
    client_ca = _read(client_ca_file, "client CA")
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None)


@dataclass(frozen=True)
class ClientTls:
    """How a client reaches a TLS server: the CA it trusts, and for mutual TLS its own certificate."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")
        if self.cert_file is not None and self.ca_file is None:
            raise ValueError("a client certificate is only used over TLS: give the CA to trust as well")

    @property
    def enabled(self) -> bool:
        return self.ca_file is not None

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file, "CA"),
            private_key=_read(self.key_file, "client key"),
            certificate_chain=_read(self.cert_file, "client certificate"),
        )


def aio_channel(target: str, tls: ClientTls | None = None, options: Sequence[tuple[str, object]] = ()) -> grpc.aio.Channel:
    if tls is not None and tls.enabled:
        return grpc.aio.secure_channel(target, tls.credentials(), options=list(options))
    return grpc.aio.insecure_channel(target, options=list(options))


def sync_channel(target: str, tls: ClientTls | None = None, options: Sequence[tuple[str, object]] = ()) -> grpc.Channel:
    if tls is not None and tls.enabled:
        return grpc.secure_channel(target, tls.credentials(), options=list(options))
    return grpc.insecure_channel(target, options=list(options))


# ------------------------------------------------------------------------------------ dev PKI


@dataclass(frozen=True)
class DevPki:
    """A throwaway CA, one server certificate for the loopback names, one client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client(self) -> ClientTls:
        return ClientTls(self.ca, self.client_cert, self.client_key)


def make_dev_pki(directory: Path, hosts: Sequence[str] = ("localhost", "127.0.0.1"), days: int = 30) -> DevPki:
    """Write a fresh CA (EC P-256), a server certificate valid for `hosts`, and a client
    certificate, all signed by the CA, into `directory` (keys 0600). For `likeness dev up --tls`
    and tests only: the CA key is thrown away with the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "likeness dev CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip

    def leaf(common_name: str, usage: x509.ObjectIdentifier, names: Sequence[str]) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )  # fmt: skip
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    pki = DevPki(*(directory / n for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")))
    server_cert, server_key = leaf("likeness dev server", ExtendedKeyUsageOID.SERVER_AUTH, hosts)
    client_cert, client_key = leaf("likeness dev client", ExtendedKeyUsageOID.CLIENT_AUTH, ())
    pki.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for path, data, mode in ((pki.server_cert, server_cert, 0o644), (pki.server_key, server_key, 0o600),
                             (pki.client_cert, client_cert, 0o644), (pki.client_key, client_key, 0o600)):  # fmt: skip
        path.touch(mode=mode)
        path.chmod(mode)
        path.write_bytes(data)
    return pki


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
