"""Peak memory of the OCR and transcription stages on a 3-minute 1080x1920 clip.

Each stage's work function runs alone in a fresh interpreter (the local runtime, the clip as the
downloader's artifact); the figure is that process's peak resident set (ru_maxrss), and
separately the largest child process (ffmpeg, tesseract). Baselines, measured in the same run:
- the same interpreter after importing the stage's libraries and loading its models (the speech
  model; RapidOCR's, the default OCR engine), without processing anything: what the stage adds
  over its fixed cost;
- for OCR, the naive pattern of collecting the 2-second samples in a list before reading them.
Target: each stage under 512 MiB. Usage: python bench/memory.py
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

CLIP = Path(tempfile.gettempdir()) / "svp-bench" / "memory-180s-1080x1920-v2.mp4"
SPEECH = (
    "Today we cook a simple tomato soup. Chop two onions and three cloves of garlic. "
    "Fry them in olive oil for five minutes, then add the tomatoes and the stock. "
    "Let it simmer for twenty minutes, blend it smooth and season with salt and pepper. "
) * 4


def clip() -> Path:
    from tests.clipgen import make_clip

    if not CLIP.is_file():
        CLIP.parent.mkdir(parents=True, exist_ok=True)
        dishes = ("onions", "garlic", "tomatoes", "stock", "basil", "cream", "salt", "pepper")
        overlays = [
            (i * 12.0, i * 12.0 + 12.0, f"Step {i + 1}: add the {dishes[i % len(dishes)]}")
            for i in range(15)
        ]
        make_clip(
            CLIP,
            speech_text=SPEECH,
            overlays=overlays,
            duration=180,
            size=(1080, 1920),
            fps=30,
            moving=True,
        )
    return CLIP


STAGE = textwrap.dedent(
    """
    import json, resource, sys, tempfile, time
    from pathlib import Path
    sys.path[:0] = [{shared!r}]
    from svp.config import Settings
    from svp.messages import JobMessage
    from svp.runtime import jobs
    from svp.runtime.context import Runtime
    from svp.wiring import build_runtime
    from svp.runtime.runner import StageContext
    from svp.media.probe import probe

    data = Path(tempfile.mkdtemp())
    runtime = build_runtime(Settings(data_dir=data))
    clip = Path({clip!r})
    info = probe(clip)
    uri = runtime.blobs.put_file("jobs/b/downloader/media.mp4", clip)
    job = jobs.new_job("b", {{"file": clip.name}}, {{}}, time.time())
    job["stages"]["downloader"]["output"] = {{
        "artifacts": {{"media": uri}}, "kind": "video", "duration": info.duration,
        "has_video": info.has_video, "has_audio": info.has_audio}}
    mode = {mode!r}
    if mode == "ocr-imports":
        import av, cv2, numpy  # noqa
        import svp.stages.ocr, svp.media.frames, svp.media.screen  # noqa
        from svp.media.ocr import rapidocr_lines
        words = numpy.zeros((720, 1280, 3), numpy.uint8)  # RapidOCR loads its models on use
        cv2.putText(words, "Tomato soup", (100, 360), cv2.FONT_HERSHEY_SIMPLEX, 3, (255,) * 3, 6)
        rapidocr_lines(words)
    elif mode == "transcriber-imports":
        import svp.stages.transcriber  # noqa
        from svp.media.transcribe import _whisper, bundled_model_path
        _whisper(bundled_model_path())
    elif mode == "ocr-naive":
        from svp.media.frames import sample_frames
        from svp.media.ocr import rapidocr_lines
        frames = [s.frame for s in sample_frames(clip, 2.0)]  # all held, then read
        for frame in frames[:3]:
            rapidocr_lines(frame)
    else:
        import importlib
        work = importlib.import_module("svp.stages." + mode).run
        scratch = Path(tempfile.mkdtemp())
        started = time.perf_counter()
        output = work(StageContext(runtime, mode, job, JobMessage("b", "downloader"), scratch))
        print(json.dumps({{k: v for k, v in output.items() if k != "artifacts"}}),
              file=sys.stderr)
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({{"self": me, "children": kids}}))
    """
)


def measure(mode: str, path: Path) -> dict:
    code = STAGE.format(shared=str(ROOT / "shared"), clip=str(path), mode=mode)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if done.stderr.strip():
        figures["output"] = done.stderr.strip().splitlines()[-1]
    return figures


def main() -> None:
    path = clip()
    print("clip: 180 s, 1080x1920, 30 fps, moving background, speech; peak RSS in MiB")
    for stage in ("ocr", "transcriber"):
        base = measure(f"{stage}-imports", path)
        run = measure(stage, path)
        verdict = "under" if run["self"] < 512 else "OVER"
        print(
            f"{stage:<12} peak {run['self']:6.0f} MiB ({verdict} the 512 MiB target); "
            f"largest child {run['children']:5.0f} MiB"
        )
        print(
            f"{'':<12} baseline, libraries + model{'s' if stage == 'ocr' else ''} "
            f"loaded, nothing processed: {base['self']:6.0f} MiB -> the stage adds "
            f"{run['self'] - base['self']:.0f} MiB ({run['self'] / base['self']:.2f}x)"
        )
        if stage == "ocr":
            naive = measure("ocr-naive", path)
            print(
                f"{'':<12} baseline, naive (all 90 samples held before reading): "
                f"{naive['self']:6.0f} MiB -> streaming uses {run['self'] / naive['self']:.2f}x"
            )
        print(f"{'':<12} stage output: {run.get('output', '')}")


if __name__ == "__main__":
    main()
