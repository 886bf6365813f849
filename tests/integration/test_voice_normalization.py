"""Voice score normalization (issue 18) through the real path: `likeness cohort build` makes a
cohort file from LibriSpeech readers who are never enrolled here (train-clean-100), a verification
replica started with LIKENESS_VERIFICATION_VOICE_COHORT_FILE judges a speaker's mean by its S-norm,
and the signed receipt carries the normalized score, the raw cosine behind it, the normalized
thresholds and the cohort's hash; a replica without the file answers as before (raw cosine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2 as vpb
from likeness.verification.v1 import verification_pb2_grpc
from tests.conftest import bearer, shared_data, start_verification, unique
from tests.support import BIG, NOTICE, rid
from verification.domain.model import Modality

LIKENESS = str(Path(sys.executable).parent / "likeness")
READER = shared_data("voices", "librispeech", "test-other", "1688")


@pytest.fixture(scope="module")
def cohort_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cohort") / "voices.npy"
    done = subprocess.run([LIKENESS, "cohort", "build", str(shared_data("voices", "librispeech", "train-clean-100")), "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    built = json.loads(done.stdout)
    assert built["voices"] >= 240 and built["cohort"].startswith("sha256:") and np.load(out).shape == (built["voices"], 256)
    return out


async def test_a_normalized_replica_signs_the_calibrated_score_and_the_raw_one(stack, pool, channel, consent_app, enrollment_app, cohort_file):
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)
    agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("norm")), metadata=op)
    platform = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("norm")), metadata=op)
    md = bearer(agency.api_key)
    talent = (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name="Reader 1688"), metadata=md)).talent.talent_id
    async with grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ech, grpc.aio.insecure_channel(consent_app.target) as cch:
        enroll = enrollment_pb2_grpc.EnrollmentServiceStub(ech)
        # Earlier modules' biometrics erased: this reader must match this talent alone.
        for row in await pool.fetch("SELECT talent_id FROM talent_data_keys"):
            await enroll.EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=row["talent_id"]), metadata=op)
        clips = [epb.MediaSample(filename=p.name, content=p.read_bytes()) for p in sorted(READER.glob("*.flac"))[:3]]
        done = await enroll.EnrollVoice(epb.EnrollVoiceRequest(request_id=rid(), talent_id=talent, notice=NOTICE, clips=clips), metadata=md)
        assert done.enrollment.state == epb.ENROLLMENT_STATE_ACTIVE and done.enrollment.accepted_samples == 3
        granted = await consent_pb2_grpc.ConsentServiceStub(cch).CreateGrant(cpb.CreateGrantRequest(request_id=rid(), grant=cpb.Grant(
            talent_id=talent, platform_id=platform.platform.platform_id, modalities=[epb.MODALITY_VOICE],
            purposes=[cpb.PURPOSE_ADVERTISING], worldwide=True)), metadata=md)  # fmt: skip

    normalized = await start_verification(stack, pool, consent_app.target, workers=1, voice_cohort_file=cohort_file)
    plain = await start_verification(stack, pool, consent_app.target, workers=1)
    try:
        for replica in (normalized, plain):
            assert replica.app.index.contains(talent, Modality.VOICE)  # (loaded at start)
        held_out = (READER / "1688-142285-0006.flac").read_bytes()
        request = lambda: vpb.VerifyRequest(parameters=vpb.VerifyParameters(  # noqa: E731
            request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US", at_least_as_fresh=granted.consistency_token), media=held_out)
        answers = {}
        for name, replica in (("normalized", normalized), ("plain", plain)):
            async with grpc.aio.insecure_channel(replica.target, options=BIG) as ch:
                answers[name] = (await verification_pb2_grpc.VerificationServiceStub(ch).Verify(
                    request(), metadata=bearer(platform.api_key))).verification  # fmt: skip
    finally:
        await normalized.app.stop()
        await plain.app.stop()

    for v in answers.values():
        assert v.decision == vpb.DECISION_ALLOW, v
    z = json.loads(answers["normalized"].receipt.canonical_payload)
    [mean] = [m for m in z["matches"] if m["talent_id"] == talent]
    assert z["schema"] == 9 and float(mean["score"]) >= 4.1 and 0.5 < float(mean["raw_score"]) < 1.0, mean
    assert z["thresholds"]["voice_norm_match"] == "4.1000" and z["models"]["VOICE_COHORT"].startswith("sha256:")
    raw = json.loads(answers["plain"].receipt.canonical_payload)
    [plain_mean] = [m for m in raw["matches"] if m["talent_id"] == talent]
    assert "raw_score" not in plain_mean and float(plain_mean["score"]) < 1.0
    assert "voice_norm_match" not in raw["thresholds"] and "VOICE_COHORT" not in raw["models"]
