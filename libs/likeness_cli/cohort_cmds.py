"""`likeness cohort build`: the voice score-normalization cohort (issue 18) from recordings of
people who are NOT enrolled, embedded exactly as enrollment embeds a voice sample
(likeness_biometrics.cohort, which the dev stack's cohort uses too)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from .client import CliError
from .common import Json, command
from .output import emit, err_console

cohort_app = typer.Typer(no_args_is_help=True, help="Voice score-normalization cohort (LIKENESS_VERIFICATION_VOICE_COHORT_FILE).")
AUDIO = {".flac", ".wav", ".mp3", ".ogg", ".m4a", ".opus", ".webm"}


def recordings(paths: list[Path]) -> list[Path]:
    """The audio files named, and those under the folders named (sorted: the cohort is reproducible)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO)
        elif path.is_file():
            found.append(path)
        else:
            raise CliError(f"{path}: no such file or folder")
    return found


def embed(files: list[Path], quiet: bool) -> tuple[np.ndarray, list[str]]:
    """likeness_biometrics.cohort.embed_recordings with a progress bar on stderr (none with --json)."""
    from likeness_biometrics.cohort import embed_recordings  # (imported on use: the CLI starts without the media stack)

    with Progress(TextColumn("embedding voices"), BarColumn(), TaskProgressColumn(), console=err_console, disable=quiet) as bar:
        task = bar.add_task("embed", total=len(files))
        return embed_recordings(files, lambda done: bar.advance(task, done))


@cohort_app.command("build")
@command
def cohort_build(
    sources: Annotated[list[Path], typer.Argument(help="Recordings, or folders of them, of people who are not enrolled (one voice each).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the cohort (.npy).")],
    as_json: Json = False,
) -> None:
    """Embed the recordings into a cohort file for LIKENESS_VERIFICATION_VOICE_COHORT_FILE. Use
    voices that will never be enrolled (a public corpus such as LibriSpeech), hundreds of them."""
    files = recordings(sources)
    if not files:
        raise CliError("no audio files found")
    from likeness_biometrics.cohort import MIN_VOICES

    array, skipped = embed(files, as_json)
    if len(array) < MIN_VOICES:
        raise CliError(f"only {len(array)} usable recordings: a cohort needs at least {MIN_VOICES} (hundreds are better)")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, array, allow_pickle=False)
    from verification.domain.calibration import cohort_name  # (pure numpy: the name receipts record)

    name = cohort_name(array)
    emit({"cohort_file": str(out), "voices": len(array), "skipped": skipped, "cohort": name}, as_json,
         f"{out}: {len(array)} voices ({len(skipped)} recordings skipped), cohort {name}")  # fmt: skip
