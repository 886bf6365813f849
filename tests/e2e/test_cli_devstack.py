"""`likeness dev up` in a subprocess, driven by the real `likeness` command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from likeness_devstack import SHARED_DATA

pytestmark = pytest.mark.e2e

LIKENESS = str(Path(sys.executable).parent / "likeness")


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory):
    state_dir = Path(tmp_path_factory.mktemp("dev", numbered=True))
    # pytest's tmp root is private to root; the postgres user must be able to traverse it.
    for parent in [state_dir, *state_dir.parents]:
        if str(parent) in ("/", "/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIKENESS_")}
    log = open(state_dir / "dev-up.out", "wb")
    proc = subprocess.Popen([LIKENESS, "dev", "up", "--state-dir", str(state_dir), "--json"], stdout=log, stderr=subprocess.STDOUT, env=env)
    dev_json = state_dir / "dev.json"
    # 90 s, plus the voice cohort's one embedding if no earlier stack or test in this checkout made it
    # (devstack.dev_voice_cohort, cached in .likeness/cache; tests/biometrics/test_dev_cohort.py runs first).
    deadline = time.monotonic() + 240
    while not dev_json.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("dev up did not start:\n" + (state_dir / "dev-up.out").read_text()[-3000:])
        time.sleep(0.2)
    info = json.loads(dev_json.read_text())
    yield proc, info, {**env, "LIKENESS_DEV_JSON": str(dev_json)}, state_dir
    if proc.poll() is None:
        proc.kill()


def cli(env, *args: str, ok: bool = True) -> dict | list[dict]:
    done = subprocess.run([LIKENESS, *args, "--json"], env=env, capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert (done.returncode == 0) is ok, f"{args}: rc={done.returncode}\n{done.stdout}\n{done.stderr}"
    return lines[0] if len(lines) == 1 else lines


def test_cli_against_dev_up(dev_stack):
    proc, info, env, _ = dev_stack
    assert info["services"]["registry"] and info["operator_api_key"].startswith("lk_")
    agency = cli(env, "agency", "register", "Acme Talent")
    other = cli(env, "agency", "register", "Other Agency")
    platform = cli(env, "platform", "register", "ClipTok")
    assert agency["agency_id"].startswith("agc_") and agency["api_key"].startswith("lk_")
    assert platform["platform_id"].startswith("plt_")
    talent = cli(env, "talent", "register", "Jane Doe", "--api-key", agency["api_key"])
    assert talent["talent_id"].startswith("tal_")

    denied = cli(env, "talent", "get", talent["talent_id"], "--api-key", other["api_key"], ok=False)
    assert denied["error"]["code"] == "PERMISSION_DENIED"
    denied = cli(env, "talent", "register", "X", "--api-key", platform["api_key"], ok=False)
    assert denied["error"]["code"] == "PERMISSION_DENIED"
    bad = cli(env, "talent", "register", " ", "--api-key", agency["api_key"], ok=False)
    assert bad["error"]["code"] == "INVALID_ARGUMENT" and bad["error"]["field_violations"][0]["field"] == "display_name"
    assert cli(env, "whoami", "--api-key", "lk_0123456789abcdef.nope", ok=False)["error"]["code"] == "UNAUTHENTICATED"

    wanted = {("AgencyRegistered", None), ("PlatformRegistered", None), ("TalentRegistered", talent["talent_id"]),
              ("MandateGranted", talent["talent_id"])}  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        events = cli(env, "events", "tail", "--timeout", "1")
        events = events if isinstance(events, list) else [events]
        seen = {(e["type"], e["talent_id"]) for e in events}
        if wanted <= seen or time.monotonic() > deadline:
            break
    assert wanted <= seen, f"events on Kafka: {seen}"
    for event in events:
        assert {"event_id", "type", "talent_id", "occurred_at"} <= event.keys()
    talent_event = next(e for e in events if e["type"] == "TalentRegistered")
    assert talent_event["display_name"] == "Jane Doe" and talent_event["actor_id"] == agency["agency_id"]


def test_consent_cli_grant_check_revoke_export_verify(dev_stack, tmp_path):
    _, info, env, _ = dev_stack
    agency = cli(env, "agency", "register", "Consent Agency")
    platform = cli(env, "platform", "register", "Consent Platform")
    talent = cli(env, "talent", "register", "Sam Roe", "--api-key", agency["api_key"])["talent_id"]
    granted = cli(env, "consent", "grant", talent, "--platform", platform["platform_id"], "--modality", "face,voice",
                  "--purpose", "advertising", "--territory", "US,GB", "--until", "2031-01-01T00:00:00Z",
                  "--api-key", agency["api_key"])  # fmt: skip
    assert granted["grant_id"].startswith("grt_") and granted["consistency_token"].startswith("ct1.")
    check = ["consent", "check", "--talent", talent, "--platform", platform["platform_id"], "--modality", "face",
             "--purpose", "advertising", "--territory", "US", "--api-key", platform["api_key"]]  # fmt: skip
    allowed = cli(env, *check)
    assert allowed["allowed"] is True and allowed["grant_ids"] == [granted["grant_id"]]
    wrong = cli(env, *check[:-4], "--territory", "FR", "--api-key", platform["api_key"])
    assert wrong["allowed"] is False and wrong["reason"] == "OUT_OF_TERRITORY"

    document = tmp_path / "grant.json"
    exported = subprocess.run([LIKENESS, "consent", "export", granted["grant_id"], "--api-key", agency["api_key"]],
                              env=env, capture_output=True, timeout=60, check=True).stdout  # fmt: skip
    document.write_bytes(exported)
    keys = tmp_path / "keys.json"
    keys.write_bytes(subprocess.run([LIKENESS, "keys", "export"], env=env, capture_output=True, timeout=60, check=True).stdout)
    assert cli(env, "consent", "verify-grant", str(document), "--keys", str(keys))["valid"] is True
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(exported.replace(b'"US"', b'"FR"'))
    refused = cli(env, "consent", "verify-grant", str(tampered), "--keys", str(keys), ok=False)
    assert refused["error"]["code"] == "INVALID_SIGNATURE"

    revoked = cli(env, "consent", "revoke", granted["grant_id"], "--reason", "contract ended", "--api-key", agency["api_key"])
    after = cli(env, *check, "--token", revoked["consistency_token"])
    assert after["allowed"] is False and after["reason"] == "REVOKED"
    listed = cli(env, "consent", "list", talent, "--api-key", agency["api_key"])
    assert listed["grant_id"] == granted["grant_id"] and listed["state"] == "REVOKED"
    audit = cli(env, "audit", "verify")
    assert audit["intact"] is True and audit["entries_checked"] >= 2


def test_enroll_verify_grant_and_receipt_cli(dev_stack, tmp_path):
    _, _, env, _ = dev_stack
    faces = SHARED_DATA / "faces"
    if not faces.exists():
        pytest.skip(f"real media not available: {faces}")
    agency = cli(env, "agency", "register", "Verify Agency")
    platform = cli(env, "platform", "register", "Verify Platform")
    talent = cli(env, "talent", "register", "Barack Obama", "--api-key", agency["api_key"])["talent_id"]
    enrolled = cli(env, "enroll", "face", talent, str(faces / "obama" / "obama.jpg"), str(faces / "obama" / "obama2.jpg"),
                   "--api-key", agency["api_key"])  # fmt: skip
    assert enrolled["accepted"] == 2 and enrolled["rejected"] == []
    photo = str(faces / "obama" / "obama3.jpg")
    verify = ["verify", photo, "--purpose", "advertising", "--territory", "US", "--api-key", platform["api_key"]]
    deadline = time.monotonic() + 30
    while (denied := cli(env, *verify))["decision"] == "NO_MATCH" and time.monotonic() < deadline:
        time.sleep(0.5)  # the enrollment travels outbox -> Kafka -> the verification index
    assert denied["decision"] == "DENY" and denied["matches"][0]["talent_id"] == talent
    assert denied["matches"][0]["denial"] == "NO_GRANT"
    granted = cli(env, "consent", "grant", talent, "--platform", platform["platform_id"], "--modality", "face",
                  "--purpose", "advertising", "--territory", "US", "--api-key", agency["api_key"])  # fmt: skip
    receipt, assertion = tmp_path / "receipt.json", tmp_path / "receipt.c2pa.json"
    allowed = cli(env, *verify, "--token", granted["consistency_token"], "--receipt", str(receipt))
    assert allowed["decision"] == "ALLOW" and allowed["grant_ids"] == [granted["grant_id"]]
    signed = tmp_path / "signed.jpg"  # the clip back with the registry's C2PA manifest (the dev stack's throwaway chain)
    embedded = cli(env, *verify, "--token", granted["consistency_token"], "--embed", str(signed))
    assert embedded["decision"] == "ALLOW" and embedded["signed_media_file"] == str(signed) and signed.read_bytes()[:2] == b"\xff\xd8"
    fetched = cli(env, "receipt", "get", allowed["verification_id"], "--out", str(assertion), "--c2pa", "--api-key", platform["api_key"])
    assert fetched["receipt_id"] == allowed["receipt_id"]
    keys = tmp_path / "keys.json"
    keys.write_bytes(subprocess.run([LIKENESS, "keys", "export"], env=env, capture_output=True, timeout=60, check=True).stdout)
    for document in (receipt, assertion):
        checked = cli(env, "receipt", "verify", str(document), "--keys", str(keys))
        assert checked["valid"] is True and checked["payload"]["decision"] == "ALLOW"
    # The keys file carries the C2PA root too: the signed clip checks offline with it alone.
    exported = json.loads(keys.read_text())
    assert exported["c2pa"]["trust_anchors_pem"].startswith("-----BEGIN CERTIFICATE-----") and exported["c2pa"]["signer_chain_pem"]
    checked = cli(env, "receipt", "verify", str(signed), "--keys", str(keys))
    assert checked["valid"] is True and checked["c2pa"]["state"] == "Trusted" and checked["id"] == embedded["receipt_id"]
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(receipt.read_bytes().replace(b'"ALLOW"', b'"DENY"'))
    assert cli(env, "receipt", "verify", str(tampered), "--keys", str(keys), ok=False)["error"]["code"] == "INVALID_SIGNATURE"
    junk = cli(env, "verify", str(keys), "--purpose", "advertising", "--api-key", platform["api_key"], ok=False)
    assert junk["error"]["code"] == "INVALID_ARGUMENT"
    assert allowed["coverage"]["complete"] is True and allowed["coverage"]["frames_analyzed"] == 1

    # A clip past the synchronous budget (130 s): the CLI switches to a long-running operation itself.
    from tests import mediakit

    frame = mediakit.paste(mediakit.scene(480, 270), mediakit.face_patch(("obama", "obama3.jpg"), 110), (240, 135))
    clip = tmp_path / "long.mp4"
    clip.write_bytes(mediakit.encode_video(lambda i: frame, count=260, fps=2))
    long = cli(env, "verify", str(clip), "--purpose", "advertising", "--territory", "US", "--token", granted["consistency_token"],
               "--api-key", platform["api_key"])  # fmt: skip
    assert long["decision"] == "ALLOW" and long["matches"][0]["talent_id"] == talent
    assert long["coverage"]["complete"] is True and long["coverage"]["frames_sampled"] == 130
    assert long["coverage"]["audio_seconds"] == 0 and long["coverage"]["speech_seconds"] == 0
    started = cli(env, "verify", str(clip), "--purpose", "advertising", "--long", "--no-wait", "--api-key", platform["api_key"])
    assert started["name"].startswith("operations/vop_") and started["done"] is False
    waited = cli(env, "operation", "wait", started["name"], "--api-key", platform["api_key"])
    assert waited["decision"] == "DENY" and waited["coverage"]["complete"] is True  # no territory: the US-only grant does not cover it
    got = cli(env, "operation", "get", started["name"], "--api-key", platform["api_key"])
    assert got["state"] == "SUCCEEDED" and got["progress_percent"] == 100 and got["verification"]["verification_id"] == waited["verification_id"]


def test_a_second_record_of_an_enrolled_face_is_disputed_and_resolved_cli(dev_stack):
    """Runs after the Obama enrollment above: a second agency's "B. Obama" is held in a dispute."""
    _, _, env, _ = dev_stack
    faces = SHARED_DATA / "faces"
    if not faces.exists():
        pytest.skip(f"real media not available: {faces}")
    agency = cli(env, "agency", "register", "Laundering Agency")
    fake = cli(env, "talent", "register", "B. Obama", "--api-key", agency["api_key"])["talent_id"]
    held = cli(env, "enroll", "face", fake, str(faces / "obama" / "obama4.jpg"), "--api-key", agency["api_key"])
    assert held["state"] == "DISPUTED" and len(held["dispute_ids"]) == 1, held
    [dispute_id] = held["dispute_ids"]
    listed = cli(env, "dispute", "list", "--talent", fake, "--api-key", agency["api_key"])
    assert listed["dispute_id"] == dispute_id and listed["state"] == "OPEN" and listed["modality"] == "FACE"
    assert fake in listed["talent_ids"] and listed["held_talent_id"] == fake
    refused = cli(env, "dispute", "resolve", dispute_id, "--resolution", "distinct-people", "--api-key", agency["api_key"], ok=False)
    assert refused["error"]["code"] == "PERMISSION_DENIED"
    resolved = cli(env, "dispute", "resolve", dispute_id, "--resolution", "same-person-keep-existing", "--note", "ID checked")
    assert resolved["state"] == "RESOLVED" and resolved["resolution"] == "SAME_PERSON_KEEP_EXISTING" and resolved["note"] == "ID checked"
    assert cli(env, "dispute", "get", dispute_id, "--api-key", agency["api_key"])["state"] == "RESOLVED"


def test_the_talent_holds_their_own_key_and_revokes_cli(dev_stack):
    """An agency invites its talent; the talent redeems the code (no API key) and revokes the
    agency's grant with their own key; an operator issues an identity-verified credential, which
    revokes a grant another agency issued."""
    _, _, env, _ = dev_stack
    agency = cli(env, "agency", "register", "Inviting Agency")
    other = cli(env, "agency", "register", "Second Agency")
    platform = cli(env, "platform", "register", "Talent Platform")
    talent = cli(env, "talent", "register", "Kim Self", "--api-key", agency["api_key"])["talent_id"]
    cli(env, "mandate", "grant", other["agency_id"], talent)
    grant = ["consent", "grant", talent, "--platform", platform["platform_id"], "--modality", "face", "--purpose", "advertising",
             "--territory", "US"]  # fmt: skip
    ours, theirs = cli(env, *grant, "--api-key", agency["api_key"]), cli(env, *grant, "--api-key", other["api_key"])

    invited = cli(env, "talent", "invite", talent, "--api-key", agency["api_key"])
    assert invited["invitation_code"].startswith("lki_") and invited["talent_id"] == talent
    redeemed = cli(env, "talent", "redeem", invited["invitation_code"])
    assert redeemed["talent_id"] == talent and redeemed["api_key"].startswith("lk_") and redeemed["identity_verified"] is False
    again = cli(env, "talent", "redeem", invited["invitation_code"], ok=False)
    assert again["error"]["reason"] == "INVITATION_ALREADY_REDEEMED"
    me = redeemed["api_key"]
    assert cli(env, "whoami", "--api-key", me) == {"kind": "talent", "principal_id": talent, "identity_verified": False,
                                                   "invited_by_agency_id": agency["agency_id"]}  # fmt: skip
    refused = cli(env, "consent", "revoke", theirs["grant_id"], "--api-key", me, ok=False)
    assert refused["error"]["reason"] == "IDENTITY_NOT_VERIFIED"
    revoked = cli(env, "consent", "revoke", ours["grant_id"], "--reason", "I never agreed", "--api-key", me)
    assert revoked["state"] == "REVOKED"

    assert cli(env, "talent", "credential", talent, ok=False)["error"]["message"].startswith("pass --identity-verified")
    verified = cli(env, "talent", "credential", talent, "--identity-verified", "--note", "passport seen")
    assert verified["identity_verified"] is True
    assert cli(env, "talent", "get", talent, "--api-key", verified["api_key"])["identity_verified"] is True
    revoked = cli(env, "consent", "revoke", theirs["grant_id"], "--api-key", verified["api_key"])
    check = cli(env, "consent", "check", "--talent", talent, "--platform", platform["platform_id"], "--modality", "face",
                "--purpose", "advertising", "--territory", "US", "--token", revoked["consistency_token"], "--api-key", platform["api_key"])  # fmt: skip
    assert check["allowed"] is False and check["reason"] == "REVOKED"
    listed = cli(env, "consent", "list", talent, "--api-key", verified["api_key"])
    assert {g["state"] for g in listed} == {"REVOKED"} and len(listed) == 2


def test_sigterm_stops_everything_without_orphans(dev_stack):
    proc, info, _, state_dir = dev_stack
    pids = info["pids"]
    assert {"registry", "consent", "enrollment", "verification", "relay", "postgres", "tansu"} <= pids.keys()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    time.sleep(0.5)
    alive = [name for name, pid in pids.items() if _alive(pid)]
    assert alive == [], f"left running: {alive}"
    assert not (state_dir / "dev.json").exists()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
