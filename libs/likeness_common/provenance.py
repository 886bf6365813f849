"""C2PA provenance (issue 15): the registry's signed receipt embedded in the clip it judged, and
read back, with the Content Authenticity Initiative's own library (`c2pa-python`, c2pa-rs).

A signed clip carries one C2PA manifest whose assertions are
- `org.likeness.verification` (C2PA_LABEL): the receipt envelope exactly as `likeness receipt
  verify` checks it (its Ed25519 signature is the registry's decision; the C2PA signature binds
  it to these media bytes);
- `c2pa.actions.v2`: `c2pa.opened` on the incoming clip (kept as the parent ingredient, its own
  manifest included, so a provenance chain stays unbroken) and `c2pa.published` by the registry,
  declaring IPTC `trainedAlgorithmicMedia` when a deciding grant asks for an AI disclosure.

The C2PA signature is ES256 (ECDSA P-256) under an X.509 chain, not the Ed25519 receipt key: C2PA
needs a certificate chain (c2pa-rs refuses self-signed leaves) and ES256 is the algorithm every
C2PA validator accepts. `dev_chain` makes a throwaway root -> intermediate -> leaf with the
extensions c2pa-rs requires; production mounts its own chain and key (deploy/README.md).
Nothing here contacts the network: no timestamp authority, no remote manifests.

Where c2pa cannot embed a manifest (FLAC, WebM, Matroska, fragmented MP4, or a clip too large to
send back), the manifest comes as a `.c2pa` sidecar instead: the same claim, bound to the clip's
bytes as uploaded (which stay unchanged) by a `c2pa.hash.data` over all of them. c2pa-python 0.38
has no call for it, so `_sign_sidecar` calls c2pa-rs's own C API (`c2pa_builder_data_hashed_placeholder`,
`c2pa_builder_sign_data_hashed_embeddable`) on the library c2pa-python loaded (pinned version).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .documents import C2PA_LABEL, canonical_json

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
_PARENT = "incoming-clip"
SIDECAR_TYPE = "application/c2pa"  # a manifest store on its own: a `.c2pa` file beside the clip
_OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}


class ProvenanceError(ValueError):
    """The media could not be signed or read (an unsupported format, broken media)."""


@dataclass(frozen=True)
class Chain:
    root_pem: bytes  # the trust anchor a validator is given
    chain_pem: bytes  # leaf then intermediate: what the manifest carries
    key_pem: bytes  # the leaf's private key (PKCS#8)

    def write(self, folder: Path) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"root": folder / "c2pa-root.pem", "chain": folder / "c2pa-chain.pem", "key": folder / "c2pa-key.pem"}
        paths["root"].write_bytes(self.root_pem)
        paths["chain"].write_bytes(self.chain_pem)
        paths["key"].write_bytes(self.key_pem)
        paths["key"].chmod(0o600)
        return paths


def dev_chain(organization: str = "Likeness Registry (dev)", days: int = 365) -> Chain:
    """A throwaway root -> intermediate -> leaf (P-256) with what c2pa-rs checks: CA flags and key
    usages, subject and authority key identifiers, an EKU on the leaf and an O= in every subject."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])

    now = dt.datetime.now(dt.UTC)

    def issue(subject: x509.Name, key, issuer: x509.Name, issuer_key, *, ca: bool, path_length: int | None = None):
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        )  # fmt: skip
        if ca:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)  # keyCertSign, cRLSign
        else:
            usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)  # digitalSignature
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        return builder.add_extension(usage, critical=True).sign(issuer_key, hashes.SHA256())

    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = issue(name("Likeness Registry root"), root_key, name("Likeness Registry root"), root_key, ca=True, path_length=1)
    inter = issue(name("Likeness Registry intermediate"), inter_key, root.subject, root_key, ca=True, path_length=0)
    leaf = issue(name("Likeness Registry verification"), leaf_key, inter.subject, inter_key, ca=False)
    pem = serialization.Encoding.PEM
    return Chain(
        root_pem=root.public_bytes(pem),
        chain_pem=leaf.public_bytes(pem) + inter.public_bytes(pem),
        key_pem=leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def _context(trust_anchor_pem: bytes | None = None, thumbnails: bool = True):
    import c2pa

    settings: dict = {**_OFFLINE}
    if trust_anchor_pem:
        settings["trust"] = {"trust_anchors": trust_anchor_pem.decode()}
    if not thumbnails:
        settings["builder"] = {"thumbnail": {"enabled": False}}
    return c2pa.Context.from_dict(settings)


def supports(media_type: str) -> bool:
    """Can c2pa embed a manifest into this media type?"""
    import c2pa

    return media_type in c2pa.Builder.get_supported_mime_types()


_BMFF = {"video/mp4", "video/quicktime", "audio/mp4", "video/x-m4v", "audio/x-m4a"}


def embeddable(media: bytes, media_type: str) -> bool:
    """Can c2pa embed a manifest into this clip? Not into a type it has no writer for, nor into a
    fragmented MP4 (top-level `moof` boxes: its BMFF hash covers only unfragmented files)."""
    return supports(media_type) and not (media_type in _BMFF and _fragmented(media))


def _fragmented(media: bytes) -> bool:
    at = 0
    while at + 8 <= len(media):
        size, kind = int.from_bytes(media[at : at + 4], "big"), media[at + 4 : at + 8]
        if kind == b"moof":
            return True
        if size == 1:
            size = int.from_bytes(media[at + 8 : at + 16], "big")
        if size < 8:  # 0 (to the end of the file) or broken: no further top-level box
            return False
        at += size
    return False


@dataclass(frozen=True)
class Signed:
    """What goes back to the platform: the clip with its manifest embedded, or (sidecar) the
    manifest store alone, for the clip exactly as uploaded."""

    content: bytes
    media_type: str  # the clip's type, or SIDECAR_TYPE
    sidecar: bool


class Embedder:
    """Signs clips with the registry's C2PA chain (thread-safe: a fresh Builder per clip)."""

    def __init__(self, chain_pem: bytes, key_pem: bytes, generator: str = "likeness-registry") -> None:
        import c2pa

        self.chain_pem = chain_pem  # public: the signing certificate and its intermediates, as every manifest carries them
        self._info = c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain_pem, private_key=key_pem, ta_url=None)
        c2pa.Signer.from_info(self._info).close()  # a bad chain or key fails at start, not on a platform's call
        self._generator = generator
        # Signing hashes (and parses) the whole clip: one at a time on a thread of its own, so a few
        # large clips never take the default executor the 1:N index searches and writes run on.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="c2pa-embed")

    @classmethod
    def from_files(cls, chain: Path, key: Path) -> Embedder:
        for path in (chain, key):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file (the C2PA signing chain and key; see deploy/README.md)")
        return cls(chain.read_bytes(), key.read_bytes())

    async def sign_async(self, media: bytes, media_type: str, receipt_envelope: bytes, *, ai_disclosure: bool = False,
                         embed: bool = True) -> Signed:  # fmt: skip
        """`sign` off the event loop, on this signer's own thread."""
        call = functools.partial(self.sign, media, media_type, receipt_envelope, ai_disclosure=ai_disclosure, embed=embed)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def sign(self, media: bytes, media_type: str, receipt_envelope: bytes, *, ai_disclosure: bool = False, embed: bool = True) -> Signed:
        """The clip with the receipt's manifest embedded where c2pa can (and `embed`), else a sidecar."""
        if embed and embeddable(media, media_type):
            return Signed(self.embed(media, media_type, receipt_envelope, ai_disclosure=ai_disclosure), media_type, sidecar=False)
        return Signed(self.sidecar(media, media_type, receipt_envelope, ai_disclosure=ai_disclosure), SIDECAR_TYPE, sidecar=True)

    def _manifest(self, receipt_envelope: bytes, ai_disclosure: bool) -> dict:
        published: dict = {"action": "c2pa.published", "softwareAgent": {"name": self._generator}}
        if ai_disclosure:
            published["digitalSourceType"] = TRAINED_ALGORITHMIC_MEDIA
        return {
            "claim_generator_info": [{"name": self._generator}],
            "title": "verified by the likeness registry",
            "assertions": [
                {"label": "c2pa.actions.v2", "data": {"actions": [
                    {"action": "c2pa.opened", "parameters": {"ingredientIds": [_PARENT]}}, published]}},
                {"label": C2PA_LABEL, "data": json.loads(receipt_envelope)},
            ],
        }  # fmt: skip

    def embed(self, media: bytes, media_type: str, receipt_envelope: bytes, *, ai_disclosure: bool = False) -> bytes:
        """The clip with the receipt's manifest embedded (the incoming clip as parent ingredient)."""

        def into_clip(builder, signer) -> bytes:
            out = io.BytesIO()
            builder.sign(signer, media_type, io.BytesIO(media), out)
            return out.getvalue()

        return self._signed(media, media_type, receipt_envelope, ai_disclosure, into_clip, "this")

    def sidecar(self, media: bytes, media_type: str, receipt_envelope: bytes, *, ai_disclosure: bool = False) -> bytes:
        """A `.c2pa` manifest store for the clip as it is: a data hash over every byte of it."""
        return self._signed(media, media_type, receipt_envelope, ai_disclosure,
                            lambda builder, signer: _sign_sidecar(builder, signer, media), "a sidecar for this")  # fmt: skip

    def _signed(self, media: bytes, media_type: str, receipt_envelope: bytes, ai_disclosure: bool, finish, what: str) -> bytes:
        """The registry's manifest, its incoming clip as the parent ingredient (the clip's own
        manifest kept with it where c2pa reads the type; described by its type otherwise), signed
        by `finish(builder, signer)`."""
        import c2pa

        manifest = self._manifest(receipt_envelope, ai_disclosure)
        parsed = readable(media_type)
        if not parsed:
            manifest["ingredients"] = [_ingredient() | {"format": media_type}]
        try:
            with c2pa.Builder.from_json(json.dumps(manifest), _context(thumbnails=False)) as builder, c2pa.Signer.from_info(self._info) as signer:
                if parsed:
                    builder.add_ingredient_from_stream(json.dumps(_ingredient()), media_type, io.BytesIO(media))
                return finish(builder, signer)
        except c2pa.C2paError as error:
            raise ProvenanceError(f"C2PA could not sign {what} {media_type}: {error}") from error


def _ingredient() -> dict:
    return {"title": "incoming clip", "relationship": "parentOf", "label": _PARENT}


def _sign_sidecar(builder, signer, media: bytes) -> bytes:
    """c2pa-rs's data-hashed signing through its C API: reserve the signature's room, then sign a
    `c2pa.hash.data` (SHA-256 over the whole clip, no exclusions) into a bare manifest store."""
    import ctypes

    import c2pa
    from c2pa import c2pa as native

    lib, out = native._lib, ctypes.POINTER(ctypes.c_ubyte)()
    _declare(lib)
    data_hash = json.dumps({"name": "jumbf manifest", "alg": "sha256", "hash": list(hashlib.sha256(media).digest()),
                            "exclusions": [], "pad": []})  # fmt: skip
    with builder._exclusive_native_call(), signer._native_call():
        size = lib.c2pa_signer_reserve_size(signer._handle)
        placeholder = ctypes.POINTER(ctypes.c_ubyte)()
        if size < 0 or lib.c2pa_builder_data_hashed_placeholder(builder._handle, size, SIDECAR_TYPE.encode(), ctypes.byref(placeholder)) < 0:
            raise c2pa.C2paError(native._read_native_error() or "no room for the signature")
        lib.c2pa_free(placeholder)
        length = lib.c2pa_builder_sign_data_hashed_embeddable(builder._handle, signer._handle, data_hash.encode(), SIDECAR_TYPE.encode(),
                                                              None, ctypes.byref(out))  # fmt: skip
        if length < 0 or not out:
            raise c2pa.C2paError(native._read_native_error() or "data-hashed signing failed")
    try:
        return ctypes.string_at(out, length)
    finally:
        lib.c2pa_free(out)


@functools.cache
def _declare(lib) -> None:
    import ctypes

    bytes_out = ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))
    for name, args, result in (
        ("c2pa_signer_reserve_size", [ctypes.c_void_p], ctypes.c_int64),
        ("c2pa_builder_data_hashed_placeholder", [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, bytes_out], ctypes.c_int64),
        ("c2pa_builder_sign_data_hashed_embeddable",
         [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, bytes_out], ctypes.c_int64),
    ):  # fmt: skip
        function = getattr(lib, name)
        function.argtypes, function.restype = args, result


@dataclass(frozen=True)
class Provenance:
    """What a clip's C2PA manifest store says, as read and validated here."""

    state: str  # "Trusted" (chain to a given anchor), "Valid" (intact, signer unknown), "Invalid", "" (none)
    failures: tuple[str, ...] = ()  # validation failure codes, e.g. "assertion.dataHash.mismatch"
    receipt_envelope: bytes | None = None  # the registry's receipt, when the active manifest holds one
    signer: str = ""  # the active manifest's signer (issuer / common name)
    claim_generator: str = ""
    digital_source_types: tuple[str, ...] = ()
    training_mining: tuple[str, ...] = ()  # cawg.training-mining entries as "use=value"


def read(media: bytes, media_type: str, trust_anchor_pem: bytes | None = None, sidecar: bytes | None = None) -> Provenance:
    """The clip's manifest store (Provenance(state="") when it has none), validated offline;
    `sidecar`: a `.c2pa` manifest store for this clip, read instead of any embedded one."""
    import c2pa

    if sidecar is None and not readable(media_type):
        return Provenance(state="")  # no c2pa reader for this type: nothing embedded it can see
    try:
        reader = c2pa.Reader(media_type, io.BytesIO(media), manifest_data=sidecar, context=_context(trust_anchor_pem))
    except c2pa.C2paError.ManifestNotFound:
        return Provenance(state="")
    except c2pa.C2paError as error:
        raise ProvenanceError(f"cannot read C2PA data from this {media_type}: {error}") from error
    with reader:
        state = reader.get_validation_state() or ""
        results = reader.get_validation_results() or {}
        active = reader.get_active_manifest() or {}
    # Everything below comes from whoever made the clip: typed, shortened and counted before it goes
    # into a receipt, an API answer and an event (a manifest can hold megabytes of claims).
    failures = [f.get("code", "") for f in _dicts(_get(_get(results, "activeManifest"), "failure"))]
    assertions = {a.get("label"): a.get("data") for a in _dicts(_get(active, "assertions"))}
    receipt = assertions.get(C2PA_LABEL)
    sources = []
    for label in ("c2pa.actions.v2", "c2pa.actions"):
        for action in _dicts(_get(assertions.get(label), "actions")):
            if action.get("digitalSourceType"):
                sources.append(action["digitalSourceType"])
    mining = []
    for label in ("cawg.training-mining", "c2pa.training-mining"):
        entries = _get(assertions.get(label), "entries")
        for use, entry in (entries.items() if isinstance(entries, dict) else ()):
            mining.append(f"{use}={_get(entry, 'use') if isinstance(entry, dict) else entry}")
    info = _get(active, "signature_info") or {}
    generators = _dicts(_get(active, "claim_generator_info"))
    return Provenance(
        state=_text(state),
        failures=_texts(failures),
        receipt_envelope=canonical_json(receipt) + b"\n" if isinstance(receipt, dict) else None,
        signer=_text(" / ".join(str(x) for x in (_get(info, "issuer"), _get(info, "common_name")) if x)),
        claim_generator=_text((generators[0].get("name") if generators else _get(active, "claim_generator")) or ""),
        digital_source_types=_texts(dict.fromkeys(str(x) for x in sources)),
        training_mining=_texts(mining),
    )


MAX_TEXT, MAX_ITEMS = 256, 16  # per field of a clip's own manifest kept as evidence


def _get(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None


def _dicts(value: object) -> list[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _texts(values) -> tuple[str, ...]:
    items = [_text(v) for v in values]
    return tuple(items[:MAX_ITEMS] + ([f"… {len(items) - MAX_ITEMS} more"] if len(items) > MAX_ITEMS else []))


def read_in_worker(source: bytes | str, _config: object, media_type: str) -> Provenance | None:
    """`read` for the verification service's worker pool (the media as bytes or a spooled file):
    a manifest store is untrusted input, parsed where the decoders run. None when there is none, or
    when it cannot be parsed at all (reported as Invalid)."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        found = read(data, media_type)
    except Exception:  # noqa: BLE001 (untrusted input: whatever breaks the parser, the clip's own manifest is unusable)
        return Provenance(state="Invalid", failures=("manifest.unreadable",))
    return found if found.state else None


def readable(media_type: str) -> bool:
    """Can c2pa look for a manifest in this media type?"""
    import c2pa

    return media_type in c2pa.Reader.get_supported_mime_types()
