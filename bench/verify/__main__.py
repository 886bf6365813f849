"""bench/verify: the 1:N index on synthetic templates, and Verify end to end over gRPC on real media.

    .venv/bin/python bench/verify [--quick] [--json] [--sizes 10000,100000] [--no-index | --no-grpc]

1. `ModalityIndex` in this process: FACE (128-d, Euclidean, vectors of norm ~1 like dlib encodings)
   and VOICE (256-d, cosine, unit vectors), 10k / 100k / 1M templates (--quick: 10k, 100k), ~5
   templates per talent. Build time (one `replace` per talent), the index's arrays in bytes and the
   process RSS delta, search p50/p99 for 1 probe and for 16 probes (the faces of a video) at the
   service's review bound (face distance 0.6, voice cosine 0.75): half the probes are noisy copies of
   an indexed template (one hit each), half random (none). Then `remove` of one talent, and the
   compaction that a run of removals past 25% dead rows triggers. Default BLAS threads (see header).
   Random isotropic vectors are kinder than real encodings: at 1M real faces, more lookalikes fall
   inside the bound, and each hit costs a step of Python.
2. The whole stack (Postgres, Tansu, registry, consent, enrollment, verification, outbox relay;
   `DevStack`), each a child process; this process is the client. An agency enrolls Obama, Biden and
   Lin-Manuel Miranda (faces) and LibriSpeech reader 1688 (voice); Obama has an advertising grant for
   the platform. Sequential Verify of a still image, a group photo, a speech clip and a video; then
   4 concurrent Verify of the still image; RSS of the verification service and its workers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from verification.adapters.vector_index import Metric, ModalityIndex
from verification.bootstrap import VerificationSettings

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:  # run as a script: `bench` imports from the repository root
    sys.path.insert(0, str(ROOT))
from bench import host as bench_host  # noqa: E402
from bench.host import pct  # noqa: E402
from likeness_devstack import SHARED_DATA  # noqa: E402

DATA = SHARED_DATA
FACES = DATA / "faces"
SPEAKER = DATA / "voices" / "librispeech" / "test-other" / "1688"
PER_TALENT = 5
FACE_BOUND, VOICE_BOUND = 0.6, 0.75  # the service's review floors: face score 0.40, voice cosine 0.75
# Probes at a "typical" distance from their enrolled template, and at the match threshold (face score
# 0.50 = distance 0.5; voice cosine 0.84 = noise sqrt(1/0.84^2 - 1) before normalizing).
TYPICAL_NOISE = {"FACE": 0.35, "VOICE": 0.4}
THRESHOLD_NOISE = {"FACE": 0.5, "VOICE": 0.646}
# The service's defaults (VerificationSettings): where the IVF takes over, cells probed per search.
IVF_MIN_ROWS = VerificationSettings.model_fields["index_ivf_min_rows"].default
NPROBE = {"FACE": VerificationSettings.model_fields["face_nprobe"].default, "VOICE": VerificationSettings.model_fields["voice_nprobe"].default}
BIG = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]


# ---------------------------------------------------------------------------------------- helpers


def rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pss_kib(pid: int | str) -> int:
    """Proportional set size: shared pages (libraries the workers have in common) divided among the
    processes that map them, so a sum over processes counts each page once."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def children_of(pid: int) -> list[int]:
    """Every descendant of `pid` (the service's biometric workers and their helpers)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier]
        found += kids
        frontier = kids
    return found


def machine() -> dict:
    """bench.host's machine plus the BLAS and thread settings the index search depends on."""
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i['internal_api']} {i['version']} {i['num_threads']} threads" for i in threadpool_info() if i["user_api"] == "blas"
        )
    except Exception:  # threadpoolctl absent: say what the environment asks for
        blas = "?"
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ}
    return {**bench_host.machine(), "numpy": np.__version__, "blas": blas or "?", "thread_env": env, "load_start": load()}


def load() -> float:
    """1-minute load average: other work on the machine shows up in the latencies."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def ms(seconds: float) -> float:
    return seconds * 1000


def mib(n_bytes: float) -> str:
    return f"{n_bytes / (1 << 20):,.0f} MiB" if n_bytes >= 10 << 20 else f"{n_bytes / (1 << 20):,.1f} MiB"


# ---------------------------------------------------------------------------------- 1. the index


def unit(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((rows, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def near(rng: np.random.Generator, vectors: np.ndarray, noise: float, normalize: bool) -> np.ndarray:
    """A probe at about `noise` from each vector (a fresh photo / clip of an enrolled person)."""
    p = vectors + noise * unit(rng, len(vectors), vectors.shape[1])
    return p / np.linalg.norm(p, axis=1, keepdims=True) if normalize else p


def timed_searches(
    index: ModalityIndex, probes: list[np.ndarray], bound: float, budget_s: float, max_reps: int
) -> tuple[list[float], float]:
    index.search(probes[0], bound)  # warm
    times, hits = [], 0
    deadline = time.perf_counter() + budget_s
    for i in range(max_reps):
        if i >= 10 and time.perf_counter() > deadline:
            break
        batch = probes[i % len(probes)]
        started = time.perf_counter()
        found = index.search(batch, bound)
        times.append(ms(time.perf_counter() - started))
        hits += len(found)
    return times, hits / len(times)


def recall_at_1(index: ModalityIndex, probes: np.ndarray, bound: float) -> float | None:
    """Share of probes whose best talent is the exact search's best talent (probes the exact search
    finds something for). 1.0 by construction while the index is exact."""
    def best(hits: list) -> dict[int, str]:
        out: dict[int, str] = {}
        for h in hits:  # sorted best first per probe
            out.setdefault(h.probe, h.talent_id)
        return out

    exact = best(index.search(probes, bound, exact=True))
    found = best(index.search(probes, bound))
    return sum(found.get(p) == t for p, t in exact.items()) / len(exact) if exact else None


def bench_index(modality: str, size: int, seed: int, budget_s: float) -> dict:
    dim, metric, bound = (128, Metric.EUCLIDEAN, FACE_BOUND) if modality == "FACE" else (256, Metric.COSINE, VOICE_BOUND)
    rng = np.random.default_rng(seed)
    talents = size // PER_TALENT
    data = unit(rng, talents * PER_TALENT, dim)
    if metric is Metric.EUCLIDEAN:  # dlib encodings are not normalized: norms spread a little around 1
        data *= rng.normal(1.0, 0.05, (len(data), 1)).astype(np.float32)
    ids = [f"tal_{i:08d}" for i in range(talents)]
    gc.collect()
    rss0 = rss_kib()
    index = ModalityIndex(dim, metric, ivf_min_rows=IVF_MIN_ROWS, nprobe=NPROBE[modality])
    started = time.perf_counter()
    index.begin_bulk()  # as the service's start-up load does: the IVF (past IVF_MIN_ROWS) is trained once
    for i, talent_id in enumerate(ids):
        index.replace(talent_id, list(data[i * PER_TALENT : (i + 1) * PER_TALENT]))
    index.end_bulk()
    build = time.perf_counter() - started
    gc.collect()
    rss_delta = (rss_kib() - rss0) * 1024
    s = index._state  # noqa: SLF001 - the arrays are what the index holds
    array_bytes = s.vectors.nbytes + s.sq_norms.nbytes + s.owners.nbytes + s.alive.nbytes
    used_bytes = array_bytes * s.rows // len(s.vectors)

    # Probes: even ones near a random indexed template (one hit), odd ones random (no hit).
    def batch(n: int, first: int = 0, data: np.ndarray = data) -> np.ndarray:
        rows = rng.integers(0, len(data), n)
        genuine = near(rng, data[rows], TYPICAL_NOISE[modality], normalize=metric is Metric.COSINE)
        p = unit(rng, n, dim)
        p[first::2] = genuine[first::2]
        return p

    singles = [batch(1, i % 2) for i in range(64)]
    sixteens = [batch(16) for _ in range(16)]
    # An enrollment's duplicate-likeness search: its samples (4, as a typical voice enrollment or a
    # 4-photo face one) searched once; the re-check after the commit scores only talent changed
    # meanwhile (LikenessIndex.best_scores), timed here against 10 of them.
    fours = [batch(4) for _ in range(16)]
    del batch
    reps = max(20, min(500, 5_000_000 // size))
    one, one_hits = timed_searches(index, singles, bound, budget_s, reps)
    many, many_hits = timed_searches(index, sixteens, bound, budget_s, reps)
    enrol, _ = timed_searches(index, fours, bound, budget_s, reps)
    changed = [index.vectors_of(t) for t in ids[:10]]
    rechecks = []
    for probe in fours:
        started = time.perf_counter()
        for theirs in changed:  # what best_scores does per changed talent
            if metric is Metric.EUCLIDEAN:
                np.linalg.norm(probe[:, None, :] - theirs[None, :, :], axis=2).min()
            else:
                (probe @ theirs.T).max()
        rechecks.append(ms(time.perf_counter() - started))
    recall = {label: recall_at_1(index, near(rng, data[rng.integers(0, len(data), 500)], noise, metric is Metric.COSINE), bound)
              for label, noise in (("typical", TYPICAL_NOISE[modality]), ("threshold", THRESHOLD_NOISE[modality]))}  # fmt: skip
    search_kind = f"IVF nprobe {index.nprobe}" if index.approximate else "exact"
    del data
    gc.collect()

    removes = []
    for talent_id in ids[: min(1000, talents // 10)]:
        started = time.perf_counter()
        index.remove(talent_id)
        removes.append((time.perf_counter() - started) * 1e6)
    started = time.perf_counter()
    index._compact()  # noqa: SLF001 - what `remove` runs once a quarter of the rows are dead
    compact = time.perf_counter() - started
    del index
    gc.collect()
    return {"modality": modality, "dim": dim, "metric": metric.value, "templates": talents * PER_TALENT, "talents": talents,
            "build_s": build, "build_us_per_talent": build / talents * 1e6, "array_bytes": array_bytes, "used_bytes": used_bytes,
            "rss_delta_bytes": rss_delta, "search1_p50_ms": statistics.median(one), "search1_p99_ms": pct(one, 99),
            "search1_reps": len(one), "search1_hits": one_hits, "search16_p50_ms": statistics.median(many),
            "search16_p99_ms": pct(many, 99), "search16_reps": len(many), "search16_hits": many_hits,
            "enroll_search4_p50_ms": statistics.median(enrol), "enroll_search4_p99_ms": pct(enrol, 99),
            "enroll_recheck10_p99_ms": pct(rechecks, 99),
            "search": search_kind, "recall_at_1": recall,
            "remove_p50_us": statistics.median(removes), "remove_p99_us": pct(removes, 99), "compact_ms": ms(compact)}  # fmt: skip


# --------------------------------------------------------------------------------- 2. over gRPC


def bench_normalization(size: int, seed: int, budget_s: float) -> dict:
    """Voice score normalization's cost per probe (issue 18: at most 1 ms): the same VOICE templates
    in a `LikenessIndex` scoring raw cosine and one normalizing speakers' means against a cohort of
    126 voices (S-norm, z thresholds as deployed), searched with the handler's floor; one speaker's
    mean per search (the common clip: one voice). Synthetic voice-like vectors shaped like
    Resemblyzer's (250 LibriSpeech readers: pairwise cosine mean 0.58, sd 0.076, p99.9 0.82; these:
    0.54, 0.056, 0.83): a direction every voice shares, one of 40 "accents", and a voice's own part;
    the cohort drawn the same way, probes noisy copies of an enrolled template (half) or fresh voices."""
    from verification.adapters.index import LikenessIndex
    from verification.domain.calibration import CohortNorm
    from verification.domain.model import Location, Modality, Probe, Thresholds

    rng = np.random.default_rng(seed)
    common, accents = unit(rng, 1, 256)[0], unit(rng, 40, 256)

    def voices(n: int) -> np.ndarray:
        v = common + 0.7 * accents[rng.integers(0, len(accents), n)] + 0.6 * unit(rng, n, 256)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    settings = VerificationSettings(voice_cohort_file=Path("cohort.npy"))  # (only for its thresholds)
    normalized_t = settings.thresholds()
    raw_t = Thresholds()
    norm = CohortNorm(voices(126), "bench")
    raw, normalized = LikenessIndex({}), LikenessIndex({}, voice_norm=norm, voice_norm_review=normalized_t.voice_norm_review)
    templates = voices(size)
    t0 = time.perf_counter()
    for start in range(0, size, PER_TALENT):
        raw.replace(f"t{start}", {Modality.VOICE: list(templates[start : start + PER_TALENT])})
    raw_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for start in range(0, size, PER_TALENT):
        normalized.replace(f"t{start}", {Modality.VOICE: list(templates[start : start + PER_TALENT])})
    norm_build = time.perf_counter() - t0
    vectors = np.concatenate([near(rng, templates[rng.integers(0, size, 50)], 0.5, normalize=True), voices(50)])
    probes = [[Probe(Modality.VOICE, Location(0, 8), v, speech_s=8.0)] for v in vectors]
    out = {"templates": size, "raw_build_s": raw_build, "norm_build_s": norm_build}
    for name, index, t in (("raw", raw, raw_t), ("normalized", normalized, normalized_t)):
        floor = t.search_floor()
        index.search_sync(probes[0], floor)  # warm
        times, hits = [], 0
        deadline = time.perf_counter() + budget_s
        for i in range(10_000):
            if i >= 20 and time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            hits += len(index.search_sync(probes[i % len(probes)], floor))
            times.append(ms(time.perf_counter() - started))
        out[name] = {"p50_ms": pct(times, 50), "p99_ms": pct(times, 99), "hits": hits / len(times), "n": len(times)}
    out["added_p50_ms"] = out["normalized"]["p50_ms"] - out["raw"]["p50_ms"]
    return out


def make_clip(source: Path, speech: list[Path], seconds: float = 10.0, width: int = 1280, height: int = 720, crf: int = 23) -> bytes:
    """A width x height H.264/AAC MP4 with speech: the Hamilton clip (640x360, 9.2 s) upscaled and
    looped for `seconds`, with LibriSpeech utterances (cut to the same length) as its audio track.
    Built in memory for each run; no media is committed."""
    import io
    from fractions import Fraction

    import av

    with av.open(str(source)) as src:
        frames = [f.reformat(width=width, height=height, format="yuv420p") for f in src.decode(video=0)]
    resampler, audio = av.AudioResampler(format="fltp", layout="mono", rate=16000), []
    for path in speech:
        with av.open(str(path)) as src:
            audio += [r for f in src.decode(audio=0) for r in resampler.resample(f)]
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as dst:
        video = dst.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": str(crf)}
        sound = dst.add_stream("aac", rate=16000)
        sound.layout = "mono"
        for i in range(int(seconds * 30)):
            frame = frames[i % len(frames)]
            frame.pts, frame.time_base = i, Fraction(1, 30)
            dst.mux(video.encode(frame))
        dst.mux(video.encode())
        samples = 0
        for frame in audio:
            if samples >= seconds * 16000:
                break
            frame.pts, frame.time_base = samples, Fraction(1, 16000)
            samples += frame.samples
            dst.mux(sound.encode(frame))
        dst.mux(sound.encode())
    return out.getvalue()


def make_speech(paths: list[Path], seconds: float) -> bytes:
    """`seconds` of LibriSpeech read speech (utterances of several readers, one after another) as
    one 16 kHz FLAC: a long narration with changing voices."""
    import io

    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as dst:
        sound = dst.add_stream("flac", rate=16000)
        sound.layout = "mono"
        samples = 0
        while samples < seconds * 16000:
            for path in paths:
                with av.open(str(path)) as src:
                    for frame in src.decode(audio=0):
                        for f in resampler.resample(frame):
                            if samples >= seconds * 16000:
                                break
                            f.pts = samples
                            samples += f.samples
                            dst.mux(sound.encode(f))
        dst.mux(sound.encode())
    return out.getvalue()


def flac_seconds(path: Path) -> float:
    head = path.read_bytes()[:26]  # "fLaC", block header, STREAMINFO: rate (20 bits) ... total samples (36 bits)
    packed = int.from_bytes(head[18:26], "big")
    return (packed & ((1 << 36) - 1)) / (packed >> 44)


async def run_grpc(info: dict, reps: int, seconds: float, concurrency: int, quick: bool = False) -> dict:
    import grpc
    from google.protobuf import duration_pb2

    from likeness.consent.v1 import consent_pb2 as cpb
    from likeness.consent.v1 import consent_pb2_grpc
    from likeness.enrollment.v1 import enrollment_pb2 as epb
    from likeness.enrollment.v1 import enrollment_pb2_grpc
    from likeness.registry.v1 import registry_pb2 as rpb
    from likeness.registry.v1 import registry_pb2_grpc
    from likeness.verification.v1 import verification_pb2 as vpb
    from likeness.verification.v1 import verification_pb2_grpc
    from likeness_common.proto import ts

    def rid() -> str:
        return str(uuid.uuid4())

    def bearer(key: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {key}")]

    services = info["services"]
    op = bearer(info["operator_api_key"])
    notice = epb.BiometricNotice(purpose_text="Protect my likeness", retention=duration_pb2.Duration(seconds=365 * 86400),
                                 accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip
    utterances = sorted(SPEAKER.glob("*.flac"))
    probe_clip = min(utterances[4:], key=lambda p: abs(flac_seconds(p) - 10.0))  # not an enrollment clip
    media = {
        "still image (obama3.jpg)": (FACES / "obama" / "obama3.jpg").read_bytes(),
        "group photo (two_people.jpg)": (FACES / "group" / "two_people.jpg").read_bytes(),
        f"speech ({probe_clip.name}, {flac_seconds(probe_clip):.1f} s)": probe_clip.read_bytes(),
        "video (short_hamilton_clip.mp4)": (FACES / "video" / "short_hamilton_clip.mp4").read_bytes(),
        "720p video with speech (10 s, H.264 + AAC)": make_clip(FACES / "video" / "short_hamilton_clip.mp4", utterances[4:]),
    }
    if not quick:
        everyone = sorted(SPEAKER.parent.glob("*/*.flac"))
        media["1080p video with speech (60 s, H.264 + AAC)"] = make_clip(FACES / "video" / "short_hamilton_clip.mp4", everyone, 60.0,
                                                                          1920, 1080)  # fmt: skip
        media["speech, 10 minutes (LibriSpeech readers, FLAC)"] = make_speech(everyone, 600.0)
    still = next(iter(media))
    out: dict = {"enroll_ms": {}}
    async with (grpc.aio.insecure_channel(info["target"]) as rch, grpc.aio.insecure_channel(services["enrollment"], options=BIG) as ech,
                grpc.aio.insecure_channel(services["consent"]) as cch, grpc.aio.insecure_channel(services["verification"], options=BIG) as vch):  # fmt: skip
        reg, enroll = registry_pb2_grpc.RegistryServiceStub(rch), enrollment_pb2_grpc.EnrollmentServiceStub(ech)
        consent, verify = consent_pb2_grpc.ConsentServiceStub(cch), verification_pb2_grpc.VerificationServiceStub(vch)
        agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name="bench agency"), metadata=op)
        md = bearer(agency.api_key)
        ids = {}
        for name in ("obama", "biden", "lin", "reader_1688"):
            ids[name] = (
                await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=name), metadata=md)
            ).talent.talent_id
        plat = await reg.RegisterPlatform(
            rpb.RegisterPlatformRequest(request_id=rid(), display_name="bench platform"), metadata=op
        )
        pmd = bearer(plat.api_key)
        faces = {"obama": [("obama", "obama.jpg"), ("obama", "obama2.jpg")], "biden": [("biden", "biden.jpg")],
                 "lin": [("lin_manuel_miranda", "lin1.png")]}  # fmt: skip
        for name, files in faces.items():
            images = [epb.MediaSample(filename=f[1], content=(FACES / f[0] / f[1]).read_bytes()) for f in files]
            started = time.perf_counter()
            await enroll.EnrollFace(
                epb.EnrollFaceRequest(request_id=rid(), talent_id=ids[name], notice=notice, images=images), metadata=md
            )
            out["enroll_ms"][f"face {name} ({len(files)} photo{'s' * (len(files) > 1)})"] = ms(time.perf_counter() - started)
        clips = [epb.MediaSample(filename=p.name, content=p.read_bytes()) for p in utterances[:4]]
        started = time.perf_counter()
        await enroll.EnrollVoice(
            epb.EnrollVoiceRequest(request_id=rid(), talent_id=ids["reader_1688"], notice=notice, clips=clips), metadata=md
        )
        out["enroll_ms"]["voice reader 1688 (4 clips)"] = ms(time.perf_counter() - started)
        enrolled = time.perf_counter()
        g = cpb.Grant(talent_id=ids["obama"], platform_id=plat.platform.platform_id, modalities=[epb.MODALITY_FACE],
                      purposes=[cpb.PURPOSE_ADVERTISING], worldwide=True)  # fmt: skip
        await consent.CreateGrant(cpb.CreateGrantRequest(request_id=rid(), grant=g), metadata=md)

        def request(data: bytes, embed: bool = False) -> vpb.VerifyRequest:
            return vpb.VerifyRequest(
                parameters=vpb.VerifyParameters(request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US", embed_c2pa=embed),
                media=data,
            )

        # The index follows Kafka (outbox -> relay -> topic -> reload): poll until Obama's face and the
        # reader's voice match; the time is the index's lag behind enrollment, to within one poll.
        speech = next(k for k in media if k.startswith("speech"))
        for key, talent in ((still, ids["obama"]), (speech, ids["reader_1688"])):
            while talent not in {
                m.talent_id for m in (await verify.Verify(request(media[key]), metadata=pmd)).verification.matches
            }:
                if time.perf_counter() - enrolled > 90:
                    raise TimeoutError(f"{talent} not in the verification index 90 s after enrollment")
                await asyncio.sleep(0.25)
        out["indexed_after_s"] = time.perf_counter() - enrolled
        names = {v: k for k, v in ids.items()}

        async def call(data: bytes) -> vpb.Verification:
            """Verify, or VerifyStream in 1 MiB chunks past 16 MiB (as the CLI does)."""
            if len(data) <= 16 << 20:
                return (await verify.Verify(request(data), metadata=pmd, timeout=600)).verification

            async def chunks():
                yield vpb.VerifyStreamRequest(parameters=request(b"").parameters)
                for at in range(0, len(data), 1 << 20):
                    yield vpb.VerifyStreamRequest(chunk=data[at : at + (1 << 20)])

            return (await verify.VerifyStream(chunks(), metadata=pmd, timeout=600)).verification

        rows = []
        for label, data in media.items():
            long = len(data) > 4 << 20  # the minute-long clips: fewer repetitions
            await call(data)  # warm
            times, last = [], None
            for _ in range(max(3, reps // 3) if long else reps):
                started = time.perf_counter()
                last = await call(data)
                times.append(ms(time.perf_counter() - started))
            c = last.coverage
            rows.append({"media": label, "bytes": len(data), "media_type": last.media_type, "p50_ms": statistics.median(times),
                         "p99_ms": pct(times, 99), "reps": len(times), "decision": vpb.Decision.Name(last.decision).removeprefix("DECISION_"),
                         "matches": sorted({names.get(m.talent_id, m.talent_id) for m in last.matches}),
                         "frames": last.frames_analyzed, "complete": c.complete, "frames_sampled": c.frames_sampled,
                         "frames_in_clip": c.frames_in_clip, "speech_s": round(c.speech_seconds, 1), "voice_windows": c.voice_windows})  # fmt: skip
        out["sequential"] = rows
        # C2PA embedding (embed_c2pa; the dev stack has a throwaway chain): with and without, interleaved.
        embed_rows = []
        for label in (still, next(k for k in media if k.startswith("720p"))):
            plain, signed, size = [], [], 0
            for _ in range(reps):
                for embed, into in ((False, plain), (True, signed)):
                    started = time.perf_counter()
                    answer = await verify.Verify(request(media[label], embed), metadata=pmd, timeout=600)
                    into.append(ms(time.perf_counter() - started))
                    size = len(answer.signed_media.content) or size
            a, b = statistics.median(plain), statistics.median(signed)
            embed_rows.append({"media": label, "plain_p50_ms": a, "embed_p50_ms": b, "added_ms": b - a, "added_pct": (b - a) / a * 100,
                               "bytes": len(media[label]), "signed_bytes": size, "reps": reps})  # fmt: skip
        out["embed"] = embed_rows

        done, latencies = 0, []
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await verify.Verify(request(media[still]), metadata=pmd)
                latencies.append(ms(time.perf_counter() - started))
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
        out["concurrent"] = {"media": still, "concurrency": concurrency, "seconds": elapsed, "calls": done,
                             "per_s": done / elapsed, "p50_ms": statistics.median(latencies), "p99_ms": pct(latencies, 99)}  # fmt: skip
    return out


def bench_handoff(reps: int) -> dict:
    """How a large clip reaches the worker processes (WorkerPoolExtractor): pickled whole into every
    task (2 face shards, the voice worker and the C2PA reader each get a copy) or written once to a
    private file whose path each task gets (what the extractor does past spool_bytes, 8 MiB). The
    same clip, the same pool, the two ways interleaved in one run."""
    from verification.adapters.engine import WorkerPoolExtractor

    speech = sorted((DATA / "voices" / "librispeech" / "test-other" / "1688").glob("*.flac"))[:3]
    clip = make_clip(FACES / "video" / "short_hamilton_clip.mp4", speech, seconds=10.0, crf=4)  # high bitrate: a large file
    pickled = WorkerPoolExtractor(face_workers=2, voice_workers=1, spool_bytes=1 << 40)
    spooled = WorkerPoolExtractor(face_workers=2, voice_workers=1)
    times: dict[str, list[float]] = {"pickled": [], "spooled": []}

    async def run() -> None:
        await pickled.warm_up()
        await spooled.warm_up()
        for _ in range(reps):
            for name, extractor in (("pickled", pickled), ("spooled", spooled)):
                started = time.perf_counter()
                await extractor.extract(clip, media_type="video/mp4")
                times[name].append(ms(time.perf_counter() - started))

    try:
        asyncio.run(run())
    finally:
        pickled.close()
        spooled.close()
    out = {"bytes": len(clip), "reps": reps} | {f"{k}_p50_ms": pct(v, 50) for k, v in times.items()}
    out["saved_p50_ms"] = out["pickled_p50_ms"] - out["spooled_p50_ms"]
    return out


def service_rss(pid: int) -> dict:
    kids = children_of(pid)
    kid_kib, kid_cmd, pss = [], [], pss_kib(pid)
    for kid in kids:
        try:
            kid_kib.append(rss_kib(kid))
            pss += pss_kib(kid)
            kid_cmd.append(Path(f"/proc/{kid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120])
        except OSError:
            pass
    main_kib = rss_kib(pid)
    return {"main_bytes": main_kib * 1024, "children": len(kid_kib), "children_bytes": sum(kid_kib) * 1024,
            "children_rss_bytes": [k * 1024 for k in kid_kib], "children_cmd": kid_cmd, "total_bytes": (main_kib + sum(kid_kib)) * 1024,
            "pss_bytes": pss * 1024}  # fmt: skip


def bench_grpc(reps: int, seconds: float, concurrency: int, keep: bool = False, quick: bool = False) -> dict:
    from likeness_devstack import DevStack

    state = Path(tempfile.mkdtemp(prefix="likeness-bench-verify-"))
    stack = DevStack(state)
    ok = False
    try:
        started = time.monotonic()
        info = stack.start()
        up = time.monotonic() - started
        pid = info["pids"]["verification"]
        rss_start = service_rss(pid)
        result = asyncio.run(run_grpc(info, reps, seconds, concurrency, quick))
        result.update(stack_up_s=up, rss_start=rss_start, rss_end=service_rss(pid))
        ok = True
        return result
    finally:
        stack.stop()
        if ok and not keep:
            shutil.rmtree(state, ignore_errors=True)
        else:
            print(f"bench/verify: the stack's logs are in {state / 'logs'}", file=sys.stderr)


# ----------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10k and 100k templates; 3 Verify calls per media; 5 s concurrent.")
    parser.add_argument("--sizes", help="Index sizes, comma-separated (default 10000,100000,1000000; --quick 10000,100000).")
    parser.add_argument("--reps", type=int, help="Sequential Verify calls per media (default 10; --quick 3).")
    parser.add_argument("--seconds", type=float, help="Length of the concurrent Verify run (default 10; --quick 5).")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--search-budget", type=float, default=3.0, help="Seconds of searches per index cell (at least 10 searches)."
    )
    parser.add_argument("--no-index", action="store_true", help="Skip the index part.")
    parser.add_argument("--no-grpc", action="store_true", help="Skip the end-to-end part.")
    parser.add_argument("--no-norm", action="store_true", help="Skip the voice score normalization part.")
    parser.add_argument("--handoff", action="store_true", help="Also time how a large clip reaches the worker processes (pickled vs a file).")
    parser.add_argument("--keep", action="store_true", help="Keep the stack's state directory (logs) after the run.")
    parser.add_argument("--json", action="store_true", help="Print the results as one JSON object.")
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("10000,100000" if args.quick else "10000,100000,1000000")).split(",")]
    reps = args.reps or (3 if args.quick else 10)
    seconds = args.seconds or (5.0 if args.quick else 10.0)

    from likeness_common.logging import configure_logging

    configure_logging("WARNING", json=True)
    host = machine()
    t0 = time.monotonic()
    index_rows = [] if args.no_index else [bench_index(m, n, seed, args.search_budget) for seed, (m, n) in
                                           enumerate((m, n) for m in ("FACE", "VOICE") for n in sizes)]  # fmt: skip
    norm_rows = [] if args.no_norm else [bench_normalization(n, 100 + seed, args.search_budget) for seed, n in enumerate(sizes)]
    grpc_result = None if args.no_grpc else bench_grpc(reps, seconds, args.concurrency, args.keep, args.quick)
    handoff = bench_handoff(reps) if args.handoff else None
    took = time.monotonic() - t0
    host["load_end"] = load()
    if args.json:
        print(json.dumps({"machine": host, "took_s": took, "index": index_rows, "normalization": norm_rows, "verify": grpc_result,
                          "handoff": handoff}))  # fmt: skip
        return

    threads = host["blas"] + (f"; {' '.join(f'{k}={v}' for k, v in host['thread_env'].items())}" if host["thread_env"] else "")
    print(f"\nbench/verify  {host['date']}  {host['cpu']}, {host['cores']} cores, Python {host['python']}, "
          f"numpy {host['numpy']} ({threads})\n"
          f"load average {host['load_start']:.2f} at start, {host['load_end']:.2f} at end; {took:.0f} s in all\n")  # fmt: skip
    if index_rows:
        print(f"1:N index (ModalityIndex), {PER_TALENT} templates per talent; bound: face distance {FACE_BOUND}, "
              f"voice cosine {VOICE_BOUND}; hits = talents found per search\n")  # fmt: skip
        print(
            "| modality | templates | search | build (per talent) | arrays (in use) | RSS delta | 1 probe p50 / p99 | "
            "16 probes p50 / p99 | hits 1 / 16 | recall@1 typical / at threshold | remove 1 talent p50 / p99 | compact |"
        )
        print("| --- | ---: | --- | --- | --- | ---: | --- | --- | --- | --- | --- | ---: |")
        for r in index_rows:
            rec = " / ".join("-" if v is None else f"{v:.3f}" for v in r["recall_at_1"].values())
            print(f"| {r['modality']} {r['dim']}-d {r['metric']} | {r['templates']:,} | {r['search']} "
                  f"| {r['build_s']:.2f} s ({r['build_us_per_talent']:.0f} µs) "
                  f"| {mib(r['array_bytes'])} ({mib(r['used_bytes'])}) | {mib(r['rss_delta_bytes'])} "
                  f"| {r['search1_p50_ms']:.2f} / {r['search1_p99_ms']:.2f} ms | {r['search16_p50_ms']:.2f} / {r['search16_p99_ms']:.2f} ms "
                  f"| {r['search1_hits']:.1f} / {r['search16_hits']:.1f} | {rec} | {r['remove_p50_us']:.1f} / {r['remove_p99_us']:.1f} µs "
                  f"| {r['compact_ms']:.0f} ms |")  # fmt: skip
        print("\nAn enrollment's duplicate-likeness search (4 samples against the whole index) and its re-check after the "
              "commit (against 10 talent changed meanwhile):\n")
        print("| modality | templates | search of 4 samples p50 / p99 | re-check p99 |\n| --- | ---: | --- | ---: |")
        for r in index_rows:
            print(f"| {r['modality']} | {r['templates']:,} | {r['enroll_search4_p50_ms']:.2f} / {r['enroll_search4_p99_ms']:.2f} ms "
                  f"| {r['enroll_recheck10_p99_ms']:.3f} ms |")  # fmt: skip
        print()
    if handoff:
        h = handoff
        print(f"A {h['bytes'] / 2**20:.1f} MiB 10 s 720p clip to the worker processes (WorkerPoolExtractor.extract, 2 face + 1 voice "
              f"workers, {h['reps']} runs each, interleaved):\n")  # fmt: skip
        print("| handoff | extract p50 |\n| --- | ---: |")
        print(f"| pickled into every task | {h['pickled_p50_ms']:,.0f} ms |\n| written once to a private file (spool) | {h['spooled_p50_ms']:,.0f} ms |")
        print(f"| saved | {h['saved_p50_ms']:+,.0f} ms |\n")
    if norm_rows:
        print("Voice score normalization (S-norm against 126 cohort voices) per search of one speaker's mean, handler's floor, "
              "synthetic crowded voices (bench_normalization):\n")
        print("| voice templates | build raw / normalized | raw p50 / p99 | normalized p50 / p99 | added p50 | hits raw / normalized |")
        print("| ---: | --- | --- | --- | ---: | --- |")
        for r in norm_rows:
            a, b = r["raw"], r["normalized"]
            print(f"| {r['templates']:,} | {r['raw_build_s']:.2f} / {r['norm_build_s']:.2f} s | {a['p50_ms']:.3f} / {a['p99_ms']:.3f} ms "
                  f"| {b['p50_ms']:.3f} / {b['p99_ms']:.3f} ms | {r['added_p50_ms']:+.3f} ms | {a['hits']:.1f} / {b['hits']:.1f} |")  # fmt: skip
        print()
    if grpc_result:
        g = grpc_result
        print(f"Verify over gRPC, whole stack as child processes (up in {g['stack_up_s']:.1f} s; a Verify found the "
              f"enrolled face and voice {g['indexed_after_s']:.1f} s after the last enrollment returned; Obama has a FACE/ADVERTISING grant, the others none)\n")  # fmt: skip
        print("| enrollment | latency |\n| --- | ---: |")
        for label, value in g["enroll_ms"].items():
            print(f"| {label} | {value:,.0f} ms |")
        print("\n| media | size | Verify p50 / p99 (calls, one at a time) | decision | matched | coverage | frames analysed / sampled / in clip "
              "| speech, windows |")  # fmt: skip
        print("| --- | ---: | --- | --- | --- | --- | ---: | ---: |")
        for r in g["sequential"]:
            print(f"| {r['media']} | {r['bytes'] / 1024:,.0f} KiB | {r['p50_ms']:,.0f} / {r['p99_ms']:,.0f} ms ({r['reps']}) | {r['decision']} "
                  f"| {', '.join(r['matches']) or '-'} | {'complete' if r['complete'] else 'INCOMPLETE'} "
                  f"| {r['frames']} / {r['frames_sampled']} / {r['frames_in_clip']} | {r['speech_s']} s, {r['voice_windows']} |")  # fmt: skip
        if g.get("embed"):
            print("\n| C2PA embed_c2pa (interleaved with plain calls) | Verify p50 plain | with embed_c2pa | added | media size -> signed |")
            print("| --- | ---: | ---: | ---: | --- |")
            for r in g["embed"]:
                print(f"| {r['media']} ({r['reps']} each) | {r['plain_p50_ms']:,.0f} ms | {r['embed_p50_ms']:,.0f} ms | "
                      f"{r['added_ms']:+,.0f} ms ({r['added_pct']:+.1f} %) | {r['bytes'] / 1024:,.0f} -> {r['signed_bytes'] / 1024:,.0f} KiB |")  # fmt: skip
        c = g["concurrent"]
        s0, s1 = g["rss_start"], g["rss_end"]
        print("\n| measure | value |\n| --- | --- |")
        print(f"| {c['concurrency']} concurrent Verify of the still image, {c['seconds']:.0f} s | {c['per_s']:.2f} calls/s "
              f"({c['calls']} calls), p50 / p99 {c['p50_ms']:,.0f} / {c['p99_ms']:,.0f} ms |")  # fmt: skip
        for when, s in (("after start", s0), ("after the run", s1)):
            print(f"| verification service RSS {when}: main + {s['children']} child processes | {mib(s['main_bytes'])} + "
                  f"{mib(s['children_bytes'])} = {mib(s['total_bytes'])} (PSS, shared pages counted once: {mib(s['pss_bytes'])}) |")  # fmt: skip


if __name__ == "__main__":
    main()
