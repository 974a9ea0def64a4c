"""Files that are not media, or are media built to cost too much, fail fast and say why.

Every refusal is a fingerprint.MediaError whose message names the file and gives a reason a
person can act on; no other exception type may escape.  The elapsed-time bounds are limits
(a hostile file must not hang a worker), not benchmarks.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from media import CHAIR, REPO, run_cli, write_declared_huge, write_video

from fingerprint import Limits, MediaError, fingerprint_bytes, fingerprint_file

FAST = 5.0  # seconds: generous for a 2-core CI machine, far below "hangs"


def refusal(path: Path, limits: Limits | None = None) -> str:
    """Fingerprint ``path`` expecting a MediaError; return its reason."""
    started = time.monotonic()
    with pytest.raises(MediaError) as caught:
        fingerprint_file(path, limits)
    assert time.monotonic() - started < FAST
    error = caught.value
    assert error.name == path.name
    assert str(error).startswith(f"{path.name}: ")
    assert error.reason.strip()
    return error.reason


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_blank_png(path: Path, side: int) -> Path:
    """A valid 1-bit greyscale PNG of side x side pixels, all black, written cheaply.

    At 20000 x 20000 it is a ~50 kB file that inflates to 400 million pixels: a PNG bomb.
    """
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte + packed bits
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )
    return path


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    assert "empty" in refusal(path)


def test_zero_bytes_in_memory() -> None:
    with pytest.raises(MediaError, match=r"^upload\.mp4: .*empty"):
        fingerprint_bytes(b"", "upload.mp4")


@pytest.mark.parametrize("name", ["noise.mp4", "noise.jpg", "noise.bin", "noise"])
def test_random_bytes(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(7).bytes(200_000))
    reason = refusal(path)
    assert "read" in reason or "damaged" in reason


@pytest.mark.parametrize("name", ["notes.txt", "notes.nfo", "notes.csv", "notes"])
def test_text_file(tmp_path: Path, name: str) -> None:
    # FFmpeg would happily render .txt/.nfo files as ANSI art "video": that is not media.
    path = tmp_path / name
    path.write_text("".join(f"Breaking: footage from the front, line {i}\n" for i in range(300)))
    assert "not a photo or video" in refusal(path)


def test_truncated_mp4_keeps_what_decodes_or_refuses(tmp_path: Path) -> None:
    data = CHAIR.read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) * 3 // 10])
    started = time.monotonic()
    try:
        fp = fingerprint_file(path)
    except MediaError as error:
        assert error.name == path.name and error.reason
    else:
        # A cut-off download: its first seconds are fingerprinted, nothing invented beyond.
        assert fp.kind == "video"
        assert len(fp) > 0
        assert fp.times.max() < 0.5 * fp.duration
    assert time.monotonic() - started < FAST


def test_png_decompression_bomb(tmp_path: Path) -> None:
    path = write_blank_png(tmp_path / "bomb.png", 20_000)
    assert path.stat().st_size < 200_000
    reason = refusal(path)
    assert "bomb" in reason or "too large" in reason


def test_photo_above_the_pixel_limit(tmp_path: Path) -> None:
    path = write_blank_png(tmp_path / "big.png", 4000)
    reason = refusal(path, Limits(max_pixels=1_000_000))
    assert "too large" in reason and "4000x4000" in reason


def test_video_above_the_pixel_limit() -> None:
    reason = refusal(CHAIR, Limits(max_pixels=100_000))  # chair is 480x720
    assert "too large" in reason and "480x720" in reason


def test_video_longer_than_the_duration_limit() -> None:
    reason = refusal(CHAIR, Limits(max_duration=2.0))
    assert "long" in reason
    # Says how long the video is and what the limit is, in units that mean something.
    assert "22 s" in reason and "2 s" in reason


def test_media_error_pickles_intact() -> None:
    # Raised in worker processes: an error the service cannot unpickle breaks the whole pool.
    error = MediaError("clip.mp4", "not a photo or video oldclip can read")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is MediaError
    assert (copy.name, copy.reason, str(copy)) == (error.name, error.reason, str(error))


PEAK_RSS = """
import sys
from bot.evidence import frame_at
from fingerprint import MediaError, fingerprint_file
read = frame_at if sys.argv[2] == "frame" else fingerprint_file
try:
    read(sys.argv[1], 0.0) if read is frame_at else read(sys.argv[1])
except MediaError as exc:
    print(exc.reason)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest, hundreds
# of MB late in the suite), while VmHWM belongs to this process's own memory since exec.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(int(hwm.split()[1]) // 1024)
"""


def refusal_and_peak_mb(path: Path, how: str) -> tuple[str, int]:
    """Read ``path`` in a fresh process; the reason it was refused and the peak RSS in MB."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(path), how],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    reason, peak = done.stdout.splitlines()
    return reason, int(peak)


@pytest.mark.parametrize("how", ["fingerprint", "frame"])
def test_declared_huge_video_is_refused_from_its_headers(tmp_path: Path, how: str) -> None:
    # 785 bytes declaring 16000x16000: FFmpeg used to decode it while probing (~800 MB).
    path = write_declared_huge(tmp_path / "huge.mov")
    assert path.stat().st_size < 2000
    reason, peak_mb = refusal_and_peak_mb(path, how)
    assert "too large (16000x16000" in reason
    assert peak_mb < 250  # importing the decoders alone is ~70 MB


def test_frame_larger_than_its_container_declares_is_refused_cheaply(tmp_path: Path) -> None:
    path = write_declared_huge(tmp_path / "liar.mov", declared=64)
    reason, peak_mb = refusal_and_peak_mb(path, "fingerprint")
    assert "could not be decoded" in reason
    assert peak_mb < 250


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in refusal(tmp_path / "gone.mp4")


def test_all_black_video(tmp_path: Path) -> None:
    black = [np.zeros((240, 320, 3), dtype=np.uint8)] * 60
    path = write_video(tmp_path / "black.mp4", black, 30)
    assert "flat or black" in refusal(path)


def test_one_bad_row_does_not_stop_an_import(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    # A copy in the folder, outside the project: a manifest names files inside its folder.
    good = CHAIR.name
    shutil.copyfile(CHAIR, folder / good)
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 5000)
    rows = [
        {"file": good, "title": "Chair", "first_seen": "2014-07-17", "source": "https://a"},
        {"file": "corrupt.mp4", "title": "Broken", "first_seen": "2015-01-01", "source": "b"},
        {"file": "other.mp4", "title": "", "first_seen": "2016-01-01", "source": "c"},
    ]
    with (folder / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    db = tmp_path / "lib.db"

    result = run_cli("import", folder, db=db)

    assert result.returncode == 1, result.stderr
    assert "added 1, already in the library 0, failed 2" in result.stdout
    problems = [line for line in result.stderr.splitlines() if line.startswith("oldclip: ")]
    assert len(problems) == 2, result.stderr
    assert "row 2" in problems[0] and "corrupt.mp4" in problems[0]
    assert "row 3" in problems[1] and "missing title" in problems[1]

    listed = run_cli("list", "--json", db=db)
    assert listed.returncode == 0, listed.stderr
    [clip] = json.loads(listed.stdout)
    assert (clip["title"], clip["first_seen"]) == ("Chair", "2014-07-17")


@pytest.mark.parametrize("as_bytes", [False, True], ids=["file", "bytes"])
async def test_a_playlist_posing_as_video_fetches_nothing(tmp_path: Path, as_bytes: bool) -> None:
    # FFmpeg's HLS demuxer would fetch every segment URL of a playlist, wherever it points.
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=CHAIR.read_bytes(), content_type="video/mp4")

    app = web.Application()
    app.router.add_get("/{path:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        playlist = (
            "#EXTM3U\n#EXT-X-TARGETDURATION:10\n"
            f"#EXTINF:10,\nhttp://127.0.0.1:{port}/secret.ts\n"
            "#EXTINF:10,\nfile:///etc/hostname\n#EXT-X-ENDLIST\n"
        )
        path = tmp_path / "breaking.mp4"
        path.write_text(playlist)
        with pytest.raises(MediaError, match="breaking.mp4"):
            if as_bytes:
                await asyncio.to_thread(fingerprint_bytes, path.read_bytes(), path.name)
            else:
                await asyncio.to_thread(fingerprint_file, path)
    finally:
        await runner.cleanup()
    assert hits == []
