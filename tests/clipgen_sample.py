"""Writes the README's sample clip: `python -m tests.clipgen_sample samples/cooking-demo.mp4`.

A short cooking video as people post them: a real photograph (samples/photos/coffee.jpg, CC0,
from scikit-image's data images) panned and zoomed across (Ken Burns, ffmpeg zoompan) in the
middle of a vertical frame filled with its own blurred copy, ingredient overlays in the lower
third, and spoken steps (espeak-ng). The overlays leave a stretch without text, so the page's
picture is the photograph, not a text card.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tests.clipgen import FONT, _escape, speech

PHOTO = Path(__file__).resolve().parents[1] / "samples" / "photos" / "coffee.jpg"
SPEECH = (
    "Hi everyone! Today we make a perfect espresso at home. "
    "First, grind eighteen grams of coffee beans very fine. "
    "Tamp the grounds evenly into the basket. "
    "Pull the shot for about twenty five seconds. "
    "Stir in a little sugar if you like, and serve it right away. "
    "Enjoy your coffee!"
)
OVERLAYS = [
    (0.0, 4.5, "Perfect Espresso"),
    (5.0, 9.5, "18 g coffee beans"),
    (10.0, 14.5, "40 ml water"),
    (15.0, 19.5, "Sugar to taste"),
]  # from 19.5 s on the photograph shows alone
DURATION = 28.0
SIZE = (720, 1280)
FPS = 25


def _moves(frames: int) -> str:
    """zoompan expressions: zoom into the cup, pan across the table, ease back out."""
    third = frames // 3
    zoom = (
        f"if(lt(on,{third}),1+0.35*on/{third},"
        f"if(lt(on,{2 * third}),1.35,1.35-0.25*(on-{2 * third})/{third}))"
    )
    x = (
        f"if(lt(on,{third}),(iw-iw/zoom)*0.55,"
        f"if(lt(on,{2 * third}),(iw-iw/zoom)*(0.55-0.5*(on-{third})/{third}),"
        f"(iw-iw/zoom)*0.05))"
    )
    y = "(ih-ih/zoom)*0.45"
    return f"z='{zoom}':x='{x}':y='{y}'"


def make_sample(out: Path) -> Path:
    width, height = SIZE
    frames = int(DURATION * FPS)
    photo_height = width * 2 // 3  # the photograph is 3:2
    top = (height - photo_height) // 2 - height // 12
    texts = ",".join(
        f"drawtext=fontfile={FONT}:text='{_escape(text)}':fontsize={width // 14}:"
        f"fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=16:"
        f"x=(w-text_w)/2:y=h*0.72:enable='between(t,{start},{end})'"
        for start, end, text in OVERLAYS
    )
    graph = (
        f"[0:v]scale={width * 3}:{width * 2}:flags=lanczos,split[a][b];"
        f"[a]scale=-2:{height},crop={width}:{height},boxblur=24:2,eq=brightness=-0.08[bg];"
        f"[b]zoompan={_moves(frames)}:d={frames}:s={width}x{photo_height}:fps={FPS}[fg];"
        f"[bg]loop=loop=-1:size=1,fps={FPS}[still];"
        f"[still][fg]overlay=0:{top}:shortest=1,{texts}[v]"
    )
    with tempfile.TemporaryDirectory() as tmp:
        wav = speech(SPEECH, Path(tmp) / "speech.wav", speed=150)
        command = [
            "ffmpeg", "-nostdin", "-v", "error", "-y",
            "-i", str(PHOTO), "-i", str(wav),
            "-filter_complex", graph,
            "-map", "[v]", "-map", "1:a",
            "-c:v", "libx264", "-preset", "slow", "-crf", "30", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "48k", "-ac", "1",
            "-t", str(DURATION), "-movflags", "+faststart", str(out),
        ]  # fmt: skip
        subprocess.run(command, check=True)
    return out


def main(out: str) -> None:
    make_sample(Path(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "samples/cooking-demo.mp4")
