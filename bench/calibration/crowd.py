"""bench/calibration --crowd: the voice rule's false-match rate on every (probe, other talent) pair,
with the impostor half of the crowd enrolled too (issue 18: "grow the impostor set where it cannot").

The plain bench judges each impostor clip against 10 enrolled readers: 125 clips per family can
show a false-match rate no lower than ~2.4 % at 95 %. Here each impostor-half reader of
train-clean-100 (never in the cohort) is also *enrolled*, from the first half of their one
utterance, and probed with its second half. Every probe clip (the 10 test-other readers' held-out
utterances and the crowd's second halves, clean and transformed) is then judged against every
enrolled talent by the service's rule, exactly as Verify judges it: thresholds raised for the
templates searched (`Thresholds.for_population`), the handler's floors, `best_matches`. Each
(clip, talent other than its speaker) is one impostor comparison: a false MATCH when that talent is
confirmed, REVIEW when it is in the band. Each clip against its own speaker is a genuine trial
(the crowd's are two halves of one recording: same session, so optimistic; reported apart).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.robustness.harness import MATCH, NO_MATCH, REVIEW, clip_outcome, deployed, rate, unjudgeable
from verification.adapters.index import LikenessIndex
from verification.domain.calibration import CohortNorm, PopulationRule
from verification.domain.model import Modality, Thresholds


@dataclass(frozen=True)
class Half:
    """One half of a recording (0: the first, enrolled; 1: the second, probed), cut at its middle sample."""

    path: Path
    part: int

    def samples(self) -> np.ndarray:
        from likeness_biometrics import decode_audio

        audio = decode_audio(self.path.read_bytes()).samples
        middle = len(audio) // 2
        return audio[:middle] if self.part == 0 else audio[middle:]


def wav_of(half: Half) -> bytes:
    from tests.mediakit import wav

    return wav(half.samples())


@dataclass
class Tally:
    """Counts for one (rule, family)."""

    genuine: Counter  # (speaker kind, outcome) -> clips
    pairs: int = 0
    review: int = 0
    clips: int = 0
    clips_falsely_matched: int = 0
    genuine_z: list = field(default_factory=list)  # (speaker kind, the clip's best speaker-mean z against its own talent)
    impostor_z: list = field(default_factory=list)  # every impostor pair's best speaker-mean z (normalized rule)
    false_matches: list = field(default_factory=list)  # (clip's speaker, talent confirmed, the Match): what went wrong
    top_z: float = float("-inf")  # the highest an impostor pair reached: an S-norm z (speakers' means, normalized)
    top_cosine: float = float("-inf")  # ... a raw cosine (windows; every probe without a cohort)

    @property
    def false_match(self) -> int:
        return len(self.false_matches)


def judge_crowd(index: LikenessIndex, thresholds: Thresholds, clips: list[tuple[str, str, list, object]], talents: set[str]) -> Tally:
    """`clips`: (its speaker, "test-other" or "crowd", its probes, its coverage)."""
    t = Tally(Counter())
    for speaker, kind, probes, coverage in clips:
        _, matches = deployed(index, thresholds, probes, Modality.VOICE)
        t.genuine[kind, clip_outcome(matches, speaker, unjudgeable(thresholds, coverage))] += 1
        others = [m for m in matches if m.talent_id != speaker]
        confirmed = [(speaker, m.talent_id, m) for m in others if not m.in_review_band]
        t.false_matches += confirmed
        t.pairs += len(talents) - 1
        t.review += len(others) - len(confirmed)
        t.clips += 1
        t.clips_falsely_matched += bool(confirmed)
        t.top_z = max([t.top_z, *(m.score for m in others if m.raw_score is not None)])
        t.top_cosine = max([t.top_cosine, *(m.score for m in others if m.raw_score is None)])
        means = [p.vector for p in probes if not p.window]
        if index.normalizes(Modality.VOICE) and means:  # the sweep: every pair, no floor
            z = index.best_scores(Modality.VOICE, np.asarray(means, np.float32), talents)
            t.genuine_z.append((kind, z.pop(speaker)))
            t.impostor_z.extend(z.values())
    return t


def run(readers: dict[str, list[Path]], impostor_files: list[Path], norm: CohortNorm, raw_t: Thresholds, norm_t: Thresholds,
        rule: PopulationRule, transforms: list[str], families: dict[str, str], extract_all, embed_bytes, log) -> dict:  # fmt: skip
    """The crowd bench's rows (see the module docstring). `extract_all(clips)` and `embed_bytes`
    are bench/calibration's extraction and enrollment."""
    from bench.calibration.__main__ import Clip

    log(f"enrolling 10 readers from 3 utterances and {len(impostor_files)} crowd readers from half their utterance")
    enrolled = {r: embed_bytes([f.read_bytes() for f in files[:3]]) for r, files in readers.items()}
    crowd = {f.stem: f for f in impostor_files}
    halves = embed_bytes([wav_of(Half(f, 0)) for f in crowd.values()])
    for name, vector in zip(crowd, halves, strict=True):
        enrolled[name] = [vector]
    skipped = [name for name, vectors in enrolled.items() if not any(v is not None for v in vectors)]
    probe_clips = [(r, "test-other", Clip(f, x)) for r, files in readers.items() for f in files[3:] for x in transforms]
    probe_clips += [(name, "crowd", Clip(f, x, half=1)) for name, f in crowd.items() for x in transforms if name not in skipped]
    log(f"extracting {len(probe_clips)} clips ({len(skipped)} crowd readers not enrollable)")
    extracted = asyncio.run(extract_all([c for _, _, c in probe_clips]))

    talents = set(enrolled) - set(skipped)
    out: dict = {"talents": len(talents), "templates": 0, "rows": [], "skipped": skipped, "z_tail": rule.voice_norm}
    for rule_name, base in (("raw", raw_t), ("normalized", norm_t)):
        index = LikenessIndex({}, voice_norm=norm if rule_name == "normalized" else None,
                              voice_norm_review=base.voice_norm_review)  # fmt: skip
        for r in talents:
            index.replace(r, {Modality.VOICE: [v for v in enrolled[r] if v is not None]})
        population = index.population()
        thresholds = base.for_population(population, rule)
        out["templates"] = population[Modality.VOICE]
        out[f"thresholds_{rule_name}"] = thresholds
        for family in dict.fromkeys(families[x] for x in transforms):
            mine = [(s, k, *extracted[c]) for s, k, c in probe_clips if families[c.transform] == family]
            t = judge_crowd(index, thresholds, mine, talents)
            out["rows"].append({"rule": rule_name, "family": family, "tally": t})
            log(f"  {rule_name} {family}: {t.false_match}/{t.pairs} false MATCH pairs, {t.review} REVIEW")
    return out


def report(out: dict) -> None:
    def top(v: float) -> str:
        return "-" if v == float("-inf") else f"{v:.3f}"

    t_raw, t_norm = out["thresholds_raw"], out["thresholds_normalized"]
    print(f"\ncrowd: {out['talents']} talents enrolled ({out['templates']} voice templates): thresholds raised for them, "
          f"raw mean {t_raw.voice_match:.3f} / {t_raw.voice_review:.3f}, window {t_raw.voice_window_match:.3f} / "
          f"{t_raw.voice_window_review:.3f}, z {t_norm.voice_norm_match:.2f} / {t_norm.voice_norm_review:.2f}"
          + (f"; not enrollable: {', '.join(out['skipped'])}" if out["skipped"] else "") + "\n")  # fmt: skip
    print("| family | rule | genuine MATCH / REVIEW / NO_MATCH: test-other (3 utterances) | crowd (same recording) | "
          "impostor pairs | false MATCH pairs (FMR) | REVIEW pairs | clips with a false MATCH | highest impostor z / cosine |")
    print("| --- | --- | --- | --- | ---: | --- | ---: | --- | ---: |")
    pooled: dict[str, list[int]] = {}
    for row in out["rows"]:
        t, g = row["tally"], row["tally"].genuine
        p = pooled.setdefault(row["rule"], [0, 0, 0, 0, 0])
        for i, v in enumerate((t.pairs, t.false_match, t.review, t.clips, t.clips_falsely_matched)):
            p[i] += v
        print(f"| {row['family']} | {row['rule']} | {g['test-other', MATCH]} / {g['test-other', REVIEW]} / {g['test-other', NO_MATCH]} | "
              f"{g['crowd', MATCH]} / {g['crowd', REVIEW]} / {g['crowd', NO_MATCH]} | {t.pairs:,} | {rate(t.false_match, t.pairs, 4)} | "
              f"{t.review:,} | {t.clips_falsely_matched}/{t.clips} | {top(t.top_z)} / {top(t.top_cosine)} |")  # fmt: skip
    for rule, (pairs, fm, review, clips, clips_fm) in pooled.items():
        print(f"| every family | {rule} | | | {pairs:,} | {rate(fm, pairs, 4)} | {review:,} | {clips_fm}/{clips} | |")
    wrong = [(row["rule"], row["family"], *f) for row in out["rows"] for f in row["tally"].false_matches]
    if wrong:
        print("\nthe false matches (clip's speaker, talent confirmed, score, what decided it):")
        for rule, family, speaker, talent, m in wrong:
            kind = f"speaker's mean, z {m.score:.2f} (cosine {m.raw_score:.3f})" if m.raw_score is not None else f"cosine {m.score:.3f}"
            span = f"{m.location.start_s:.1f}-{m.location.end_s:.1f} s"
            print(f"- {rule}, {family}: {speaker} as {talent}: {kind}, {span}, {m.speech_s or 0:.1f} s of speech")


def report_sweep(out: dict) -> None:
    """Speaker means alone under the normalized rule, no floor: for each z, the impostor pairs at or
    above it and the genuine clips below it (informative: a window can still confirm a voice)."""
    rows = [r for r in out["rows"] if r["rule"] == "normalized"]
    im_all = np.concatenate([np.asarray(r["tally"].impostor_z) for r in rows])
    im_clean = np.concatenate([np.asarray(r["tally"].impostor_z) for r in rows if r["family"] == "clean"])

    def genuine(kind: str, clean: bool) -> np.ndarray:
        return np.asarray([z for r in rows if (r["family"] == "clean") == clean for k, z in r["tally"].genuine_z if k == kind])

    g = {"test-other clean": genuine("test-other", True), "crowd clean": genuine("crowd", True),
         "test-other transformed": genuine("test-other", False), "crowd transformed": genuine("crowd", False)}  # fmt: skip
    print(f"\nsweep (informative): speakers' means alone, normalized, no floor; impostor pairs at or above z (highest: clean "
          f"{im_clean.max():.2f}, every family {im_all.max():.2f}); genuine clips below z (telephone band included)")  # fmt: skip
    # The population rule's model of the same (Match.impostors): each of a talent's templates a
    # stranger's, reaching z with probability tail.p(z).
    tail, per_talent = out["z_tail"], out["templates"] / out["talents"]
    print(f"(model: the population rule's z tail N({tail.mean:g}, {tail.sd:g}) over {per_talent:.2f} templates per talent)")
    print("| z | impostor pairs, clean | every family | model expects, every family | " + " | ".join(f"{k} below" for k in g) + " |")
    print("| ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in g) + " |")
    for z in (2.5, 3.0, 3.25, 3.5, 3.75, 4.0, 4.1, 4.2, 4.4, 4.6):
        model = len(im_all) * per_talent * tail.p(z)
        print(f"| {z:.2f} | {(im_clean >= z).sum()}/{len(im_clean):,} | {(im_all >= z).sum()}/{len(im_all):,} | {model:.1f} | "
              + " | ".join(f"{(x < z).sum()}/{len(x)}" for x in g.values()) + " |")  # fmt: skip


def as_json(out: dict) -> dict:
    rows = []
    for row in out["rows"]:
        t = row["tally"]
        rows.append({"rule": row["rule"], "family": row["family"], "genuine": {f"{k}/{o}": n for (k, o), n in t.genuine.items()},
                     "pairs": t.pairs, "false_match": t.false_match, "review": t.review, "clips": t.clips,
                     "clips_falsely_matched": t.clips_falsely_matched, "top_z": t.top_z, "top_cosine": t.top_cosine})  # fmt: skip
    return {"talents": out["talents"], "templates": out["templates"], "skipped": out["skipped"], "rows": rows}
