"""`make demo`: the README's library tour, run for real on this machine.

It serves the recorded article and fact-check pages of the test suite, with the shared test
media, on a loopback port (tests/feed_server.py), and runs the same `oldclip` commands as the
README in a fresh temporary library, printing each command and what it answered.  Nothing
leaves the machine.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import tempfile
from pathlib import Path

from feed_server import FeedServer
from media import CHAIR, CHAIR_RECUT, frame_at, save_jpeg


def serve_frames(server: FeedServer, folder: Path) -> None:
    """The pages' pictures: frames of the chair video, as their photographers' JPEGs."""
    for name, second in {
        "chair-poster.jpg": 3.0,
        "factcheck-frame.jpg": 8.0,
        "factcheck-cover.jpg": 12.0,
    }.items():
        pixels, _ = frame_at(CHAIR, second)
        server.files[name] = save_jpeg(folder / name, pixels).read_bytes()


async def oldclip(folder: Path, *args: str) -> None:
    shown = " ".join(shlex.quote(a) for a in args)
    print(f"$ oldclip {shown}", flush=True)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "oldclip", "--config", str(folder / "config.toml"), *args,
        cwd=folder,
    )  # fmt: skip
    await process.wait()


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="oldclip-demo-") as name:
        folder = Path(name)
        (folder / "config.toml").write_text(
            f'[library]\ndatabase = "{folder / "library.db"}"\n'
            '[network]\nallowed_networks = ["127.0.0.0/8"]\n',
            encoding="utf-8",
        )
        async with FeedServer() as server:
            serve_frames(server, folder)
            print(f"# the recorded pages are served at {server.base_url}\n", flush=True)
            await oldclip(folder, "import-page", server.url("/feeds/article-chair.html"))
            await oldclip(folder, "import-page", server.url("/feeds/factcheck-chair.html"))
            await oldclip(folder, "show", "1")
            await oldclip(folder, "check", str(CHAIR_RECUT))
            await oldclip(folder, "check", "--json", str(CHAIR_RECUT))


if __name__ == "__main__":
    asyncio.run(main())
