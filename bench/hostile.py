"""Memory and survival while hostile files are refused: a declared-huge frame and junk bytes.

    python bench/hostile.py [--side 16000]

Writes a ~1 kB QuickTime file whose one PNG frame declares SIDE x SIDE pixels (FFmpeg used to
decode it while probing: ~800 MB at 16000) and 300 kB of random bytes, then prints:

- decoder: the peak RSS of a fresh process that fingerprints the file, and of one that reads
  its evidence frame as the bot does (what one decoding worker costs), with the reason given;
- service: `oldclip watch --once` against a local feed whose two enclosures are those files:
  the peak RSS of the oldclip process and of its largest helper process (sampled from /proc
  every 10 ms), its exit status, and the reason recorded for each item.

The script drives only the command line and the decoding functions, so the same script run in
a checkout of an older commit (with this file and tests/media.py copied in) gives the figures
from before a change.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media import write_declared_huge  # noqa: E402

# The peak is VmHWM: ru_maxrss would carry the forking parent's peak over the exec.
READ = """
import re, sys, time
from bot.evidence import frame_at
from fingerprint import MediaError, fingerprint_file
started = time.monotonic()
try:
    frame_at(sys.argv[1], 0.0) if sys.argv[2] == "frame" else fingerprint_file(sys.argv[1])
    reason = "accepted"
except MediaError as exc:
    reason = exc.reason
status = open("/proc/self/status").read()
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024
print(f"{peak:.0f} MB peak, {time.monotonic() - started:.2f} s: {reason}")
"""


def decoder_figures(path: Path) -> None:
    for how in ("fingerprint", "frame"):
        done = subprocess.run(
            [sys.executable, "-c", READ, str(path), how],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=300,
        )
        print(f"  decoder ({how}): {done.stdout.strip() or done.stderr.strip()[-300:]}")


async def serve(files: dict[str, tuple[bytes, str]]) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.Response:
        body, content_type = files[request.match_info["name"]]
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_get("/{name}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


def feed(base: str, names: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{name}</title><link>{base}/post/{name}</link><guid>{name}</guid>"
        f"<pubDate>Fri, 20 Nov 2026 11:30:00 GMT</pubDate>"
        f'<enclosure url="{base}/{name}" type="video/mp4" length="1000"/></item>'
        for name in names
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Hostile</title>'
        f"<link>{base}/</link>{items}</channel></rss>"
    ).encode()


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(k) for k in children.read_text().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


async def service_figures(tmp: Path, huge: Path, junk: bytes) -> None:
    files = {
        "huge.mov": (huge.read_bytes(), "video/quicktime"),
        "junk.mp4": (junk, "video/mp4"),
    }
    runner, base = await serve(files)
    files["feed.xml"] = (feed(base, ["huge.mov", "junk.mp4"]), "application/rss+xml")
    config = tmp / "config.toml"
    config.write_text(
        f'[library]\ndatabase = "{tmp / "bench.db"}"\n'
        "[network]\nallow_private_addresses = true\n"
        f'[[feeds]]\nkind = "rss"\ntarget = "{base}/feed.xml"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLDCLIP_")}
    env["PYTHONPATH"] = str(ROOT)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "oldclip", "--config", str(config), "watch", "--once",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp,
    )  # fmt: skip
    main_peak = helper_peak = 0
    communicate = asyncio.create_task(process.communicate())
    while not communicate.done():
        main_peak = max(main_peak, rss_kb(process.pid))
        for child in descendants(process.pid):
            helper_peak = max(helper_peak, rss_kb(child))
        await asyncio.sleep(0.01)
    out, err = communicate.result()
    elapsed = time.monotonic() - started
    await runner.cleanup()
    print(
        f"  service (oldclip watch --once): exit {process.returncode} after {elapsed:.1f} s; "
        f"peak RSS {main_peak / 1024:.0f} MB (main process), "
        f"{helper_peak / 1024:.0f} MB (largest helper process)"
    )
    print(f"    stdout: {out.decode().strip()}")
    if process.returncode:
        print(f"    stderr: {err.decode().strip()[-300:]}")
    db = sqlite3.connect(tmp / "bench.db")
    for url, state, error in db.execute("SELECT url, state, error FROM post_media ORDER BY id"):
        print(f"    {url.rsplit('/', 1)[-1]}: {state}: {error}")
    db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=16000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        huge = write_declared_huge(tmp / "huge.mov", args.side)
        junk = np.random.default_rng(10).bytes(300_000)
        print(f"{huge.stat().st_size} byte file declaring {args.side}x{args.side} pixels")
        decoder_figures(huge)
        await service_figures(tmp, huge, junk)


if __name__ == "__main__":
    asyncio.run(main())
