"""Where the CPU of one fingerprint goes, stage by stage, on the shared videos.

    python bench/stages.py [--runs 3] [--files chair-orig-22-sd-bar.mp4 ...]

``fingerprint_file`` overlaps decoding (a background thread) with hashing, so its own clock
cannot split the work.  Here every stage runs on its own, in this one thread, on the shipped
settings (``fingerprint.decode.DECODER_OPTIONS``, ``SKIP_UNSAMPLED``), timed in CPU seconds
of the process (FFmpeg's own decoding threads included: one thread's clock misses them), one
stage at a time; each stage's figure is the best of ``--runs``:

* demux+decode: the video packets read and decoded, frames skipped as ``_frames`` skips them;
* sampling: ``_sample`` (decoding included) minus the above: luma views, cut thumbnails, the
  work pictures (one swscale call each) and the anchors' detail pictures (Pillow
  reduce/resize, range expansion);
* pdq: ``PdqExtractor`` over the samples (content boxes, 64x64 squares, PDQ's C++ hashing);
* orb: ``LocalExtractor`` over the samples (ORB detection, grid choice, description x2);
* audio decode: demux, AAC decode and resampling to 11025 Hz mono;
* audio codes: ``fingerprint.audio.extract`` minus the above (FFT, chroma, codes);
* storage: sha256 of the file and every signal's ``dumps``.

The sum is compared with ``fingerprint_file``'s own CPU (process time, every thread), and
the x-realtime figures are seconds of video per CPU second.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import av

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fingerprint import audio, decode, fingerprint_file, sha256_file, signal  # noqa: E402
from fingerprint import local as _local  # noqa: E402, F401 - OpenCV on one thread, as shipped
from fingerprint.chromaprint import SAMPLE_RATE  # noqa: E402
from fingerprint.hashing import PdqExtractor  # noqa: E402
from fingerprint.local_features import LocalExtractor  # noqa: E402
from fingerprint.settings import Limits  # noqa: E402

MEDIA = HERE.parent.parent / "shared" / "media" / "videos"
STAGES = ["demux+decode", "sampling", "pdq", "orb", "audio decode", "audio codes", "storage"]


def best(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """(least process CPU seconds of ``runs`` calls of ``fn``; the last call's result)."""
    times, result = [], None
    for _ in range(runs):
        started = time.process_time()
        result = fn()
        times.append(time.process_time() - started)
    return min(times), result


def _decode_only(path: Path, limits: Limits) -> None:
    container, stream = decode.open_video(path, path.name, limits)
    steps = (1.0 / limits.sample_fps, 1.0 / limits.anchor_fps)
    with container:
        for _ in decode._frames(container, stream, steps):
            pass


def _samples(path: Path, limits: Limits) -> list[decode.Sample]:
    container, stream = decode.open_video(path, path.name, limits)
    with container:
        return list(decode._sample(container, stream, path.name, limits))


def _audio_decode(path: Path) -> None:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(container.streams.audio[0]):
            resampler.resample(frame)
        resampler.resample(None)


def _feed(extractor, samples: list[decode.Sample]):
    for sample in samples:
        extractor.add(sample)
    return extractor.finish()


def _storage(path: Path, found: dict[str, object]) -> None:
    sha256_file(path)
    for name, data in found.items():
        signal.get(name).dumps(data)


def stages(path: Path, runs: int, limits: Limits) -> tuple[float, dict[str, float], float]:
    """(video seconds, CPU seconds per stage, fingerprint_file's own CPU seconds)."""
    header = decode.decode(path, path.name, limits)[0]
    cpu: dict[str, float] = {}
    cpu["demux+decode"], _ = best(lambda: _decode_only(path, limits), runs)
    sampled, samples = best(lambda: _samples(path, limits), runs)
    cpu["sampling"] = max(0.0, sampled - cpu["demux+decode"])
    cpu["pdq"], pdq = best(lambda: _feed(PdqExtractor(header, path.name), samples), runs)
    cpu["orb"], orb = best(lambda: _feed(LocalExtractor(photo=False), samples), runs)
    cpu["audio decode"], _ = best(lambda: _audio_decode(path), runs)
    audio_all, sound = best(lambda: audio.extract(path, path.name, limits), runs)
    cpu["audio codes"] = max(0.0, audio_all - cpu["audio decode"])
    found = {"pdq": pdq, "orb": orb, "audio": sound}
    found = {k: v for k, v in found.items() if v is not None}
    cpu["storage"], _ = best(lambda: _storage(path, found), runs)
    whole, fp = best(lambda: fingerprint_file(path), runs)
    return fp.duration, cpu, whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per stage (best is kept)")
    parser.add_argument("--files", nargs="+", help="names in the shared videos (default: all)")
    args = parser.parse_args()
    videos = [MEDIA / f for f in args.files] if args.files else sorted(MEDIA.glob("*.mp4"))
    limits = Limits()
    width = max(len(s) for s in STAGES)
    print(f"CPU seconds per stage, best of {args.runs}, shipped decoder settings")
    print(f"{'file':34} {'video s':>7} " + " ".join(f"{s:>{width}}" for s in STAGES)
          + f" {'sum':>6} {'whole':>6} {'x-rt':>5}")  # fmt: skip
    totals = dict.fromkeys(STAGES, 0.0)
    length = whole_cpu = 0.0
    for path in videos:
        duration, cpu, whole = stages(path, args.runs, limits)
        length += duration
        whole_cpu += whole
        for stage in STAGES:
            totals[stage] += cpu[stage]
        print(f"{path.name:34} {duration:7.1f} "
              + " ".join(f"{cpu[s]:{width}.3f}" for s in STAGES)
              + f" {sum(cpu.values()):6.2f} {whole:6.2f} {duration / whole:5.1f}")  # fmt: skip
    total = sum(totals.values())
    print(f"{'all':34} {length:7.1f} " + " ".join(f"{totals[s]:{width}.3f}" for s in STAGES)
          + f" {total:6.2f} {whole_cpu:6.2f} {length / whole_cpu:5.1f}")  # fmt: skip
    print(f"{'share of the sum':42} " + " ".join(f"{totals[s] / total:{width}.0%}" for s in STAGES))
    print(f"x-realtime per CPU s: stages summed {length / total:.1f}, "
          f"fingerprint_file {length / whole_cpu:.1f} (target >= 55)")  # fmt: skip


if __name__ == "__main__":
    main()
