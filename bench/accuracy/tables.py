"""Rows from the trials, for the JSON as they are and for the terminal through `render`.

A rate is a dict {"k", "n", "upper95"}: k of n, with a one-sided 95 % Clopper-Pearson upper bound
(harness.upper95); it prints as "k/n = x% (<= u%)". Scores are the service's, "higher is closer":
face 1 - dlib distance, voice cosine."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bench.robustness.harness import MATCH, NO_MATCH, REVIEW, upper95

from .trials import ClipRun, Trial


def rate(k: int, n: int) -> dict:
    return {"k": k, "n": n, "upper95": round(upper95(k, n), 4) if n else None}


def _rate_text(r: dict) -> str:
    k, n, u = r["k"], r["n"], r.get("upper95")
    if not n:
        return "0/0"
    return f"{k}/{n} = {k / n:.1%}" + (f" (<= {u:.1%})" if u is not None else "")


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict) and "k" in value:
        return _rate_text(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render(rows: list[dict], columns: dict[str, str]) -> str:
    """An aligned text table of `rows`, `columns` mapping each key to its header."""
    cells = [list(columns.values())] + [[_cell(r.get(k)) for k in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(cells[0]), line(["-" * w for w in widths]), *map(line, cells[1:])])


# ------------------------------------------------------------------ the deployed rule


def genuine(trials: Iterable[Trial]) -> list[Trial]:
    return [t for t in trials if t.case.expected is not None]


def impostors(trials: Iterable[Trial]) -> list[Trial]:
    return [t for t in trials if t.case.expected is None]


def _by_category(trials: list[Trial], pooled: str) -> list[tuple[str, list[Trial]]]:
    """Each category (Case.source) in order, then all of them as `pooled` when there are several."""
    groups: dict[str, list[Trial]] = {}
    for t in trials:
        groups.setdefault(t.case.source, []).append(t)
    out = list(groups.items())
    return out + [(pooled, trials)] if len(groups) > 1 else out


def genuine_rows(trials: list[Trial], pooled: str = "all") -> list[dict]:
    """Per category: the right talent's outcome, rank-1 (the right talent is the top-scoring
    confirmed match), FNMR (not MATCH), and probes where a wrong talent is confirmed or in review."""
    rows = []
    for category, ts in _by_category(genuine(trials), pooled):
        n = len(ts)
        counts = {o: sum(t.outcome == o for t in ts) for o in (MATCH, REVIEW, NO_MATCH)}
        rows.append({
            "probes": category, "n": n, **counts, "nothing_found": sum(t.probes == 0 for t in ts),
            "rank1": {"k": sum(t.top == t.case.expected for t in ts), "n": n},
            "fnmr": rate(n - counts[MATCH], n),
            "wrong_match": rate(sum(bool(t.wrong_confirmed) for t in ts), n),
            "wrong_review": rate(sum(bool(t.wrong_review) for t in ts), n),
        })  # fmt: skip
    return rows


def impostor_rows(trials: list[Trial], pooled: str = "all") -> list[dict]:
    """Per category: probes where an enrolled talent is confirmed (false MATCH), or only in the
    review band (REVIEW), and the best score any talent reached."""
    rows = []
    for category, ts in _by_category(impostors(trials), pooled):
        n = len(ts)
        best = [s for t in ts for kind in t.scores.values() for s in kind.values()]
        rows.append({
            "probes": category, "n": n, "false_match": rate(sum(t.outcome == MATCH for t in ts), n),
            "window_only": sum(t.window_only for t in ts), "review": rate(sum(t.outcome == REVIEW for t in ts), n),
            "nothing_found": sum(t.probes == 0 for t in ts), "max_score": round(max(best), 3) if best else None,
        })  # fmt: skip
    return rows


GENUINE_COLUMNS = {"probes": "genuine probes", "n": "n", MATCH: MATCH, REVIEW: REVIEW, NO_MATCH: NO_MATCH,
                   "nothing_found": "none found", "rank1": "rank-1", "fnmr": "FNMR (not MATCH)",
                   "wrong_match": "wrong talent MATCH", "wrong_review": "wrong talent REVIEW"}  # fmt: skip
IMPOSTOR_COLUMNS = {"probes": "impostor probes", "n": "n", "false_match": "false MATCH", "window_only": "by windows only",
                    "review": "REVIEW", "nothing_found": "none found", "max_score": "max score"}  # fmt: skip
FACE_IMPOSTOR_COLUMNS = {k: v for k, v in IMPOSTOR_COLUMNS.items() if k != "window_only"}


# ------------------------------------------------------------------ scores


def score_sets(trials: list[Trial], kind: str) -> dict[str, list[float]]:
    """The scores `best_matches` compares, one per (probe unit, talent): the best template of each
    talent against the unit's best probe of `kind`. Genuine: the right talent; impostor: every
    other enrolled talent (genuine units) and every talent (units of people not enrolled)."""
    g = genuine(trials)
    return {
        "genuine": [t.scores[kind][t.case.expected] for t in g if t.case.expected in t.scores.get(kind, {})],
        "impostor_enrolled": [s for t in g for talent, s in t.scores.get(kind, {}).items() if talent != t.case.expected],
        "impostor_not_enrolled": [s for t in impostors(trials) for s in t.scores.get(kind, {}).values()],
    }


def distribution(name: str, values: list[float]) -> dict:
    """n, min, p1 and p99 (from 100 values), median, max."""
    a = np.asarray(values, float)
    if not len(a):
        return {"scores": name, "n": 0}
    tail = len(a) >= 100
    return {"scores": name, "n": len(a), "min": round(float(a.min()), 3), "p1": round(float(np.percentile(a, 1)), 3) if tail else None,
            "median": round(float(np.median(a)), 3), "p99": round(float(np.percentile(a, 99)), 3) if tail else None,
            "max": round(float(a.max()), 3)}  # fmt: skip


SCORE_COLUMNS = {"scores": "scores", "n": "n", "min": "min", "p1": "p1", "median": "median", "p99": "p99", "max": "max"}


def sweep(
    genuine_scores: list[float], impostor_scores: list[float], points: Iterable[float], marks: dict[float, str]
) -> list[dict]:
    """One threshold t on one kind of score: impostor (unit, talent) pairs at or above it, genuine
    units below it. Informative only: the deployed rule has a review band and, for voice, two kinds."""
    g, i = np.asarray(genuine_scores), np.asarray(impostor_scores)
    rows = []
    for t in sorted({round(p, 3) for p in points} | set(marks)):
        rows.append(
            {"t": t, "fmr": rate(int(np.sum(i >= t)), len(i)), "fnmr": rate(int(np.sum(g < t)), len(g)), "note": marks.get(t, "")}
        )
    return rows


SWEEP_COLUMNS = {"t": "threshold", "fmr": "impostor pairs >= t", "fnmr": "genuine < t", "note": "deployed"}


def operating_points(genuine_scores: list[float], impostor_scores: list[float]) -> dict:
    """Equal error rate on this data, and the lowest threshold with no false match."""
    g, i = np.asarray(genuine_scores), np.asarray(impostor_scores)
    if not len(g) or not len(i):
        return {}
    best = min(np.unique(np.concatenate([g, i])), key=lambda t: abs(np.mean(g < t) - np.mean(i >= t)))
    return {
        "separable": bool(g.min() > i.max()),
        "eer": round(float((np.mean(g < best) + np.mean(i >= best)) / 2), 4),
        "eer_t": round(float(best), 3),
        "no_false_match_above": round(float(i.max()), 3),
        "fnmr_there": round(float(np.mean(g <= i.max())), 4),
    }


def operating_text(op: dict) -> str:
    if not op:
        return "no scores"
    return (f"separable on this data: {op['separable']}; EER ~{op['eer']:.2%} at {op['eer_t']:.3f}; "
            f"no false match above {op['no_false_match_above']:.3f} (FNMR there {op['fnmr_there']:.1%})")  # fmt: skip


# ------------------------------------------------------------------ timing


def timing(runs: list[ClipRun], wall_s: float, workers: int) -> dict:
    """Clips extracted and judged, the phase's wall time, per clip wall (other clips in flight)."""
    seconds = [r.seconds for r in runs]
    audio = sum(r.audio_s for r in runs)
    return {
        "clips": len(runs), "workers": workers, "wall_s": round(wall_s, 1),
        "clip_s_median": round(float(np.median(seconds)), 3) if seconds else None,
        "clip_s_max": round(max(seconds), 3) if seconds else None,
        "audio_s": round(audio, 1), "ms_wall_per_audio_s": round(1000 * wall_s / audio, 2) if audio else None,
    }  # fmt: skip


def timing_text(t: dict) -> str:
    text = (f"{t['clips']} clips through the extractor in {t['wall_s']:.1f} s wall ({t['workers']} workers per pool, "
            f"{t['workers'] + 1} clips in flight); per clip median {t['clip_s_median']:.2f} s, max {t['clip_s_max']:.2f} s")  # fmt: skip
    if t["audio_s"]:
        text += f"; {t['audio_s']:.0f} s of audio, {t['ms_wall_per_audio_s']:.1f} ms wall per second of audio"
    return text


# ------------------------------------------------------------------ single probes


def exception_rows(trials: list[Trial], kinds: tuple[str, ...]) -> list[dict]:
    """Every probe not decided as it should be: a genuine one not MATCH or with a wrong talent
    confirmed or in review, an impostor one not NO_MATCH. Scores per kind: against the right talent
    (genuine), against the nearest talent (impostor)."""
    rows = []
    for t in trials:
        expected = t.case.expected
        fine = t.outcome == MATCH and not t.wrong_confirmed and not t.wrong_review if expected else t.outcome == NO_MATCH
        if fine:
            continue
        row = {"probe": t.case.label, "expected": expected or "(not enrolled)", "outcome": t.outcome, "top": t.top,
               "wrong_match": ", ".join(t.wrong_confirmed) or None, "wrong_review": ", ".join(t.wrong_review) or None}  # fmt: skip
        for kind in kinds:
            per = t.scores.get(kind, {})
            value = per.get(expected) if expected else max(per.values(), default=None)
            row[f"score_{kind}"] = round(value, 3) if value is not None else None
        rows.append(row)
    return rows


def exception_columns(kinds: tuple[str, ...]) -> dict[str, str]:
    names = {"face": "score", "mean": "speaker mean", "window": "best window"}
    return {"probe": "probe", "expected": "expected", "outcome": "outcome", "top": "top confirmed", "wrong_match": "wrong MATCH",
            "wrong_review": "wrong REVIEW", **{f"score_{k}": names[k] for k in kinds}}  # fmt: skip
