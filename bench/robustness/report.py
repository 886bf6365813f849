"""Tables from the results: rates as counts with a one-sided 95 % Clopper-Pearson upper bound (the
sets are small), score percentiles, and the single-window threshold sweep. Every function returns
rows (lists of dicts) that go into the JSON as they are and into Markdown with `markdown`; a rate
is there twice: "k/n (x%)" for reading, and its count as "<name>_k" (out of the row's "n")."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .harness import MATCH, NO_MATCH, REVIEW, THRESHOLDS, Result, Thresholds, upper95


def _groups(results: Iterable[Result]) -> dict[str, list[Result]]:
    out: dict[str, list[Result]] = {}
    for r in results:
        out.setdefault(r.case.family, []).append(r)
    return out


def _with_totals(results: list[Result]) -> dict[str, list[Result]]:
    """Each family, then one pooled row per source ("<source> · all")."""
    groups = _groups(results)
    sources: dict[str, list[Result]] = {}
    for r in results:
        sources.setdefault(r.case.source, []).append(r)
    for source, rs in sources.items():
        if len({r.case.transform for r in rs}) > 1:
            groups[f"{source} · all"] = rs
    return groups


def _rate(k: int, n: int) -> str:
    return f"{k}/{n} ({k / n:.1%})" if n else "0/0"


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def genuine_rows(results: list[Result]) -> list[dict]:
    """Per family: outcomes of the expected talent, FNMR (not a confirmed match) with its bound,
    the expected talent's best score per clip, and clips where someone else was confirmed."""
    rows = []
    for family, rs in _with_totals([r for r in results if r.case.expected is not None]).items():
        n = len(rs)
        counts = {o: sum(r.outcome == o for r in rs) for o in (MATCH, REVIEW, NO_MATCH)}
        best = [max(s for v in r.expected_scores.values() for s in v) for r in rs if any(r.expected_scores.values())]
        miss = n - counts[MATCH]
        rows.append({
            "family": family, "n": n, **counts, "poor_audio": sum(r.poor_audio and r.outcome == REVIEW for r in rs),
            "no_probe": sum(r.probes == 0 for r in rs), "fnmr": _rate(miss, n), "fnmr_k": miss, "fnmr_upper95": round(upper95(miss, n), 3),
            "score_p5": _pct(best, 5), "score_p50": _pct(best, 50),
            "other_confirmed": sum(bool(r.others) for r in rs),
        })  # fmt: skip
    return rows


def impostor_rows(results: list[Result]) -> list[dict]:
    """Per family: clips where an enrolled talent was confirmed (false match) or put in review,
    with bounds, and the best score any talent reached."""
    rows = []
    for family, rs in _with_totals([r for r in results if r.case.expected is None]).items():
        n = len(rs)
        fm = sum(r.outcome == MATCH for r in rs)
        review = sum(r.outcome == REVIEW for r in rs)
        best = [s for r in rs for v in r.best_scores.values() for s in v]
        rows.append({
            "family": family, "n": n, "false_match": _rate(fm, n), "false_match_k": fm, "fmr_upper95": round(upper95(fm, n), 3),
            "window_only": sum(r.window_only for r in rs), "poor_audio": sum(r.poor_audio and r.outcome == REVIEW for r in rs),
            "review": _rate(review, n), "review_k": review, "review_upper95": round(upper95(review, n), 3),
            "max_score": round(max(best), 3) if best else None,
        })  # fmt: skip
    return rows


def voice_score_rows(results: list[Result]) -> tuple[list[dict], list[dict]]:
    """Genuine: the right talent's score of each speaker mean (best per clip) and of every single
    window (p1, p5, p50). Impostor: per clip, the best score of any talent over its windows and over
    its speaker means, and every single window's best score (p99, max)."""
    genuine, impostor = [], []
    for family, rs in _with_totals(results).items():
        g = [r for r in rs if r.case.expected is not None]
        if g:
            means = [max(r.expected_scores["mean"]) for r in g if r.expected_scores.get("mean")]
            windows = [s for r in g for s in r.expected_scores.get("window", [])]
            genuine.append({"family": family, "clips": len(g), "means_n": len(means), **_low(means, "mean"),
                            "windows_n": len(windows), **_low(windows, "window")})  # fmt: skip
        i = [r for r in rs if r.case.expected is None]
        if i:
            clip_windows = [max(r.best_scores["window"]) for r in i if r.best_scores.get("window")]
            clip_means = [max(r.best_scores["mean"]) for r in i if r.best_scores.get("mean")]
            windows = [s for r in i for s in r.best_scores.get("window", [])]
            impostor.append({"family": family, "clips": len(i), **_high(clip_means, "mean"), **_high(clip_windows, "clip_max_window"),
                             "windows_n": len(windows), **_high(windows, "window")})  # fmt: skip
    return genuine, impostor


def _low(values: list[float], name: str) -> dict:
    return {f"{name}_p{q}": _pct(values, q) for q in (1, 5, 50)}


def _high(values: list[float], name: str) -> dict:
    return {f"{name}_p99": _pct(values, 99), f"{name}_max": round(max(values), 3) if values else None}


def window_sweep(results: list[Result], points: Iterable[float]) -> list[dict]:
    """For candidate single-window thresholds t (all families pooled): impostor clips with a window
    at or above t (each would be confirmed or put in review by that window alone), genuine windows
    at or above t, and cameo clips with a genuine window at or above t."""
    impostors = [r for r in results if r.case.expected is None]
    genuine = [s for r in results if r.case.expected is not None for s in r.expected_scores.get("window", [])]
    cameos = [r for r in results if r.case.transform == "cameo"]
    rows = []
    for t in points:
        k = sum(max(r.best_scores.get("window", [-1.0])) >= t for r in impostors)
        found = sum(max(r.expected_scores.get("window", [-1.0])) >= t for r in cameos)
        rows.append({
            "t": round(t, 2), "impostor_clips": _rate(k, len(impostors)), "impostor_k": k, "impostor_n": len(impostors),
            "impostor_upper95": round(upper95(k, len(impostors)), 4),
            "genuine_windows": f"{np.mean(np.asarray(genuine) >= t):.1%}" if genuine else "-",
            "cameos_found": _rate(found, len(cameos)), "cameos_k": found, "cameos_n": len(cameos),
        })  # fmt: skip
    return rows


def thresholds_line(t: Thresholds = THRESHOLDS) -> str:
    mean = (f"voice mean match z {t.voice_norm_match} / review {t.voice_norm_review} (S-norm)" if t.voice_norm_match is not None
            else f"voice mean match {t.voice_match} / review {t.voice_review} (cosine)")  # fmt: skip
    return (f"deployed thresholds: face match {t.face_match} / review {t.face_review} (1 - dlib distance); {mean}; voice window match "
            f"{t.voice_window_match} / review {t.voice_window_review} (cosine); a speaker under {t.voice_mean_confirm_speech_s:g} s "
            f"and a window under {t.voice_window_confirm_speech_s:g} s of speech confirm nothing")  # fmt: skip


def markdown(rows: list[dict], columns: dict[str, str]) -> str:
    """A Markdown table of `rows`, `columns` mapping each key to its header."""
    head = "| " + " | ".join(columns.values()) + " |"
    rule = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join("-" if r.get(k) is None else str(r[k]) for k in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


GENUINE_COLUMNS = {"family": "family", "n": "clips", "MATCH": "MATCH", "REVIEW": "REVIEW", "poor_audio": "of which POOR_AUDIO",
                   "NO_MATCH": "NO_MATCH", "no_probe": "nothing found", "fnmr": "FNMR (not MATCH)", "fnmr_upper95": "95% upper",
                   "score_p5": "score p5", "score_p50": "score p50", "other_confirmed": "other talent confirmed"}  # fmt: skip
IMPOSTOR_COLUMNS = {"family": "family", "n": "clips", "false_match": "false MATCH", "fmr_upper95": "95% upper",
                    "window_only": "by windows only", "review": "REVIEW", "poor_audio": "of which POOR_AUDIO",
                    "review_upper95": "95% upper (review)", "max_score": "max score"}  # fmt: skip
FACE_IMPOSTOR_COLUMNS = {k: v for k, v in IMPOSTOR_COLUMNS.items() if k not in ("window_only", "poor_audio")}
GENUINE_SCORE_COLUMNS = {"family": "family", "clips": "clips", "means_n": "means", "mean_p1": "mean p1", "mean_p5": "mean p5",
                         "mean_p50": "mean p50", "windows_n": "windows", "window_p1": "window p1", "window_p5": "window p5",
                         "window_p50": "window p50"}  # fmt: skip
IMPOSTOR_SCORE_COLUMNS = {"family": "family", "clips": "clips", "mean_p99": "clip max mean p99", "mean_max": "clip max mean max",
                          "clip_max_window_p99": "clip max window p99", "clip_max_window_max": "clip max window max",
                          "windows_n": "windows", "window_p99": "window p99", "window_max": "window max"}  # fmt: skip
SWEEP_COLUMNS = {"t": "window threshold", "impostor_clips": "impostor clips with a window >= t", "impostor_upper95": "95% upper",
                 "genuine_windows": "genuine windows >= t", "cameos_found": "cameo clips with a genuine window >= t"}  # fmt: skip
