"""What the multilingual speech model costs next to the bundled English one, in one run.

Each model runs alone in a fresh interpreter: import faster-whisper, load the model (base:
join its two halves into a fresh cache, then verify its SHA-256 on a second load), then
transcribe espeak-ng clips (English, Spanish, Portuguese; ~10 s each). Printed per model: the
join and verify times (base), load time, resident memory after loading (over the interpreter
with faster-whisper imported) and at peak (ru_maxrss), seconds per clip and what it heard;
then base's figures as ratios of tiny.en's.
Usage: python bench/whisper_models.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "shared"), str(ROOT)]

CLIPS = {
    "en": (
        "en-us",
        "Today we make a quick tomato pasta. Boil the spaghetti for ten minutes, "
        "then fry the garlic in olive oil and add the tomatoes.",
    ),
    "es": (
        "es",
        "Hoy vamos a preparar una tortilla de patatas. Primero, pela las patatas y "
        "córtalas en rodajas finas. Después, fríelas en aceite de oliva.",
    ),
    "pt": (
        "pt",
        "Hoje vamos fazer um bolo de cenoura muito fácil. Primeiro, misture os ovos "
        "com o açúcar e o óleo. Depois, acrescente a farinha.",
    ),
}

CHILD = textwrap.dedent(
    """
    import json, os, resource, sys, time
    sys.path[:0] = [{shared!r}]

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    import faster_whisper
    from faster_whisper import WhisperModel
    from svp.media import whisper_models
    before = rss()
    out = {{}}
    if {which!r} == "base":
        started = time.monotonic()
        path = whisper_models.multilingual_path()  # joins into the fresh cache
        out["join_s"] = time.monotonic() - started
        started = time.monotonic()
        whisper_models.multilingual_path()  # a later load: the hash check only
        out["verify_s"] = time.monotonic() - started
    else:
        path = whisper_models.english_path()
    started = time.monotonic()
    model = WhisperModel(path, device="cpu", compute_type="int8")
    out["load_s"] = time.monotonic() - started
    out["loaded_mib"] = rss() - before
    out["clips"] = {{}}
    for lang, audio in {clips!r}.items():
        started = time.monotonic()
        segments, info = model.transcribe(audio, vad_filter=True, language={language})
        text = " ".join(s.text.strip() for s in segments)
        out["clips"][lang] = [time.monotonic() - started, info.language, text]
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    """
)


def run(which: str, clips: dict[str, str], cache: Path) -> dict:
    language = "None" if which == "base" else "'en'"
    code = CHILD.format(shared=str(ROOT / "shared"), which=which, clips=clips, language=language)
    env = {"SVP_MODEL_CACHE": str(cache), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from tests.clipgen import speech

    with tempfile.TemporaryDirectory() as tmp:
        clips = {
            lang: str(speech(text, Path(tmp) / f"{lang}.wav", voice=voice))
            for lang, (voice, text) in CLIPS.items()
        }
        figures = {which: run(which, clips, Path(tmp) / "cache") for which in ("tiny.en", "base")}
    for which, out in figures.items():
        extra = ""
        if "join_s" in out:
            extra = f"  join {out['join_s']:.2f} s, verify {out['verify_s']:.2f} s,"
        print(
            f"{which:8}{extra} load {out['load_s']:.2f} s, +{out['loaded_mib']:.0f} MiB loaded, "
            f"peak {out['peak_mib']:.0f} MiB"
        )
        for lang, (seconds, heard, text) in out["clips"].items():
            print(f"    {lang}: {seconds:5.2f} s  heard as {heard}: {text[:70]}")
    tiny, base = figures["tiny.en"], figures["base"]
    print("base / tiny.en:")
    print(f"    load {base['load_s'] / tiny['load_s']:.1f}x")
    print(
        f"    memory loaded {base['loaded_mib'] / tiny['loaded_mib']:.1f}x, "
        f"peak {base['peak_mib'] / tiny['peak_mib']:.1f}x"
    )
    for lang in CLIPS:
        print(f"    {lang} time {base['clips'][lang][0] / tiny['clips'][lang][0]:.1f}x")


if __name__ == "__main__":
    main()
