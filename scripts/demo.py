"""`make demo`: start the embedded stack, run the end-to-end story through the real `likeness`
command, print what happened, stop the stack.

    .venv/bin/python scripts/demo.py [--state-dir DIR]   (default .likeness; tests/e2e/test_demo.py
                                                          runs it in a throwaway directory)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from likeness_common.logging import configure_logging
from likeness_devstack import SHARED_DATA, DevStack

ROOT = Path(__file__).resolve().parent.parent
FACES = SHARED_DATA / "faces"
READER = SHARED_DATA / "voices" / "librispeech" / "test-other" / "1688"
LIKENESS = str(Path(sys.executable).parent / "likeness")


class Demo:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.steps: list[tuple[str, str]] = []

    def run(self, title: str, *args: str, expect_ok: bool = True) -> dict | list:
        shown = " ".join(a if len(a) < 40 else a[:12] + "…" for a in args)
        print(f"\n\033[1m▶ {title}\033[0m\n  $ likeness {shown} --json")
        done = subprocess.run([LIKENESS, *args, "--json"], env=self.env, capture_output=True, text=True, timeout=120)
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        for line in lines[:12]:
            print("  " + json.dumps(_redact(line)))
        if len(lines) > 12:
            print(f"  … {len(lines) - 12} more")
        ok = done.returncode == 0
        if ok != expect_ok:
            sys.stderr.write(done.stderr)
            raise SystemExit(f"demo step failed: {title}")
        self.steps.append((title, _outcome(lines[0]) if ok and lines else "ok" if ok
                           else f"refused as expected ({lines[0]['error']['code']})"))  # fmt: skip
        return lines[0] if len(lines) == 1 else lines


def _outcome(first: dict) -> str:
    if "event_id" in first:  # `events tail`: summarised after the steps
        return "ok"
    if "decision" in first:
        found = ", ".join(f"{m['modality'].lower()} {m['score']:.2f}" + (f" covered by {m['grant_id']}" if m["grant_id"] else f" {m['denial']}")
                          + (f" disputed {m['dispute_id']}" if m.get("dispute_id") else "") for m in first.get("matches", []))  # fmt: skip
        reasons = "".join(f" {r}" for r in first.get("review_reasons", []) if first["decision"] == "REVIEW")
        return f"{first['decision']}{reasons}" + (f" ({found})" if found else "")
    if "dispute_id" in first:  # a likeness dispute (before enrollments: it names its enrollment too)
        return f"{first['state']}" + (f" {first['resolution']}" if first["resolution"] else "")
    if "enrollment_id" in first:
        held = f", DISPUTED ({', '.join(first['dispute_ids'])})" if first.get("dispute_ids") else ""
        return f"{first['accepted']} sample(s) accepted{held}"
    if "allowed" in first:
        return "ALLOWED by " + ", ".join(first["grant_ids"]) if first["allowed"] else f"NOT ALLOWED ({first['reason']})"
    if "valid" in first:
        return f"signature valid (key {first['key_id']})"
    if "invitation_code" in first:
        return "single-use code issued"
    if "api_key" in first and "talent_id" in first:  # the talent's own key
        return f"talent key issued (identity {'verified' if first['identity_verified'] else 'not verified'})"
    if first.get("state") == "REVOKED" and "grant_id" in first:
        return f"REVOKED {first['grant_id']}"
    if "intact" in first:
        return f"intact, {first['entries_checked']} entries"
    return "ok"


def _redact(line: dict) -> dict:
    return {k: (v[:14] + "…" if k in ("api_key", "invitation_code") and isinstance(v, str) else v) for k, v in line.items()}


def _wait_until_indexed(env: dict[str, str], verify: list[str], timeout: float = 30.0) -> None:
    """The enrollment reaches the verification index through the outbox and Kafka (well under a second here)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run([LIKENESS, *verify, "--json"], env=env, capture_output=True, text=True, timeout=120)
        if done.returncode == 0 and json.loads(done.stdout)["decision"] != "NO_MATCH":
            return
        time.sleep(0.3)


def main() -> None:
    if not FACES.exists():
        raise SystemExit(f"the demo uses the photos in {FACES} (../shared/data beside the project)")
    parser = argparse.ArgumentParser(description="The end-to-end story on the embedded stack.")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".likeness", help="where the stack keeps its data")
    args = parser.parse_args()
    configure_logging("WARNING", json=False)
    stack = DevStack(args.state_dir)
    print("starting the embedded stack (PostgreSQL, Tansu broker, four services, relay; the biometric models load)…")
    started = time.monotonic()
    info = stack.start()
    print(f"stack up in {time.monotonic() - started:.1f}s: " + ", ".join(f"{k} {v}" for k, v in info["services"].items()))
    env = {**os.environ, "LIKENESS_DEV_JSON": str(stack.dev_json)}
    demo = Demo(env)
    try:
        agency = demo.run("The operator registers a talent agency", "agency", "register", "Northstar Talent")
        rival = demo.run("…and a second agency", "agency", "register", "Rival Artists")
        platform = demo.run("…and a platform that publishes generated clips", "platform", "register", "ClipForge")
        talent = demo.run("The agency registers its client (a mandate comes with it)",
                          "talent", "register", "Barack Obama", "--api-key", agency["api_key"])  # fmt: skip
        tid = talent["talent_id"]
        demo.run("The agency lists the talent it represents", "talent", "list", "--api-key", agency["api_key"])
        demo.run("Another agency cannot read that talent", "talent", "get", tid, "--api-key", rival["api_key"], expect_ok=False)
        demo.run("A platform cannot register talent", "talent", "register", "Someone",
                 "--api-key", platform["api_key"], expect_ok=False)  # fmt: skip
        demo.run("The agency enrolls the talent's face from two photos (the talent accepted the biometric notice)",
                 "enroll", "face", tid, str(FACES / "obama" / "obama.jpg"), str(FACES / "obama" / "obama2.jpg"),
                 "--api-key", agency["api_key"])  # fmt: skip
        narrator = demo.run("…and registers a narrator, a voice client", "talent", "register", "LibriSpeech reader 1688",
                            "--api-key", agency["api_key"])  # fmt: skip
        demo.run("The agency enrolls the narrator's voice from four recordings",
                 "enroll", "voice", narrator["talent_id"], *(str(READER / f"1688-142285-000{n}.flac") for n in range(4)),
                 "--api-key", agency["api_key"])  # fmt: skip
        clip = str(FACES / "obama" / "obama3.jpg")
        verify = ["verify", clip, "--purpose", "advertising", "--territory", "US", "--api-key", platform["api_key"]]
        speech = ["verify", str(READER / "1688-142285-0006.flac"), "--purpose", "advertising", "--territory", "US",
                  "--api-key", platform["api_key"]]  # fmt: skip
        _wait_until_indexed(env, verify)
        _wait_until_indexed(env, speech)
        demo.run("The platform verifies a generated image before publishing: a match, and no consent", *verify)
        grant = demo.run("The agency grants the platform consent: face, advertising, US and GB",
                         "consent", "grant", tid, "--platform", platform["platform_id"], "--modality", "face",
                         "--purpose", "advertising", "--territory", "US,GB", "--condition", "disclosure_label=AI-generated",
                         "--api-key", agency["api_key"])  # fmt: skip
        voice_grant = demo.run("…and the narrator's voice for the same platform and purpose",
                               "consent", "grant", narrator["talent_id"], "--platform", platform["platform_id"],
                               "--modality", "voice", "--purpose", "advertising", "--api-key", agency["api_key"])  # fmt: skip
        check = ["consent", "check", "--talent", tid, "--platform", platform["platform_id"],
                 "--modality", "face", "--territory", "US", "--api-key", platform["api_key"]]  # fmt: skip
        demo.run("The platform checks an advertising use", *check, "--purpose", "advertising")
        demo.run("…and a dubbing use (not granted)", *check, "--purpose", "dubbing")
        receipt = stack.state_dir / "receipt.c2pa.json"
        demo.run("The platform verifies again (with the grant's consistency token) and keeps the signed receipt as a C2PA assertion",
                 *verify, "--token", grant["consistency_token"], "--receipt", str(receipt), "--c2pa")  # fmt: skip
        demo.run("Anyone verifies the receipt offline", "receipt", "verify", str(receipt))
        demo.run("The platform verifies a generated voice-over (a recording not used for enrollment)",
                 *speech, "--token", voice_grant["consistency_token"])  # fmt: skip
        demo.run("…the image again, for dubbing (not granted)", *verify[:3], "dubbing", *verify[4:])
        demo.run("…and an image of someone nobody enrolled", "verify", str(FACES / "kit_harington" / "john1.jpeg"),
                 *verify[2:])  # fmt: skip
        # Consent laundering: the second agency enrolls the same face under a name of its own.
        fake = demo.run("The second agency registers \"B. Obama\"", "talent", "register", "B. Obama", "--api-key", rival["api_key"])
        held = demo.run("…and enrolls another photo of the same face: held in a likeness dispute",
                        "enroll", "face", fake["talent_id"], str(FACES / "obama" / "obama4.jpg"), "--api-key", rival["api_key"])  # fmt: skip
        laundered = demo.run("…and grants the platform consent for its record", "consent", "grant", fake["talent_id"],
                             "--platform", platform["platform_id"], "--modality", "face", "--purpose", "advertising",
                             "--api-key", rival["api_key"])  # fmt: skip
        demo.run("The platform verifies the image while the dispute is open: never ALLOW", *verify,
                 "--token", laundered["consistency_token"])  # fmt: skip
        demo.run("Both agencies see the dispute", "dispute", "list", "--talent", tid, "--api-key", agency["api_key"])
        demo.run("The operator resolves it: the same person, the existing record stays",
                 "dispute", "resolve", held["dispute_ids"][0], "--resolution", "same-person-keep-existing",
                 "--note", "identity checked with the talent")  # fmt: skip
        demo.run("The same upload decides on the real record's grant again", *verify, "--token", laundered["consistency_token"])
        document = stack.state_dir / "grant.json"
        document.write_bytes(subprocess.run([LIKENESS, "consent", "export", grant["grant_id"], "--api-key", agency["api_key"]],
                                            env=env, capture_output=True, check=True).stdout)  # fmt: skip
        demo.run("A contract system verifies the signed grant offline", "consent", "verify-grant", str(document))
        # The talent in control: a key of their own, from the agency's one-time invitation.
        invitation = demo.run("The agency invites its client to hold a key of his own", "talent", "invite", tid, "--api-key", agency["api_key"])
        own = demo.run("The talent redeems the code (no API key needed)", "talent", "redeem", invitation["invitation_code"])
        demo.run("The talent sees every grant about him", "consent", "list", tid, "--api-key", own["api_key"])
        revoked = demo.run("The talent revokes the advertising grant with his own key", "consent", "revoke", grant["grant_id"],
                           "--reason", "I no longer want this campaign", "--api-key", own["api_key"])  # fmt: skip
        demo.run("The same check with the revoke's consistency token", *check, "--purpose", "advertising",
                 "--token", revoked["consistency_token"])  # fmt: skip
        demo.run("…and the same upload: denied at once", *verify, "--token", revoked["consistency_token"])
        demo.run("The audit chain is intact", "audit", "verify")
        time.sleep(1.0)  # let the relay publish the last commits
        events = demo.run("A contract system reads every event from Kafka", "events", "tail", "--timeout", "2")
        events = events if isinstance(events, list) else [events]
    finally:
        stack.stop()
    print("\n\033[1mSummary\033[0m")
    for title, outcome in demo.steps:
        print(f"  {'✔'} {title}: {outcome}")
    kinds = sorted({e["type"] for e in events})
    print(f"  {len(events)} events on Kafka: {', '.join(kinds)}")


if __name__ == "__main__":
    main()
