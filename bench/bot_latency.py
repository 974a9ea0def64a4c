"""Reply latency of the bot for a 20 s clip: from the update reaching the bot to the verdict.

    python bench/bot_latency.py [--runs 5]

Starts the real `oldclip run` against the local fake Bot API of the test suite, with the chair
clip in a fresh library, and has different users send the 20.5 s re-cut chair-20-sd-bar.mp4.
For each, the time from the bot's first reply ("checking…", sent as soon as the update arrives)
to the verdict (the edit of that message) and to the evidence picture is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fake_telegram import DEFAULT_TOKEN, FakeTelegram  # noqa: E402

from oldclip.config import load_config  # noqa: E402
from oldclip.library import Library  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "media" / "videos"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        library = Library.open(load_config(None, folder / "library.db"))
        library.add_clip(
            VIDEOS / "chair-orig-22-sd-bar.mp4",
            title="Chair",
            first_seen="2017-06-20",
            source="https://example.org/chair",
        )
        library.close()
        async with FakeTelegram() as tg:
            config = folder / "config.toml"
            config.write_text(
                f'[library]\ndatabase = "{folder / "library.db"}"\n'
                f'[bot]\napi_base_url = "{tg.base_url}"\n'
            )
            env = {**os.environ, "OLDCLIP_BOT_TOKEN": DEFAULT_TOKEN, "PYTHONPATH": str(ROOT)}
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "oldclip", "--config", str(config), "run",
                cwd=folder, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await tg.wait_for("getUpdates", timeout=60)
            verdicts, pictures = [], []
            for run in range(args.runs):
                chat = 1000 + run
                tg.send_video(tg.user(chat), VIDEOS / "chair-20-sd-bar.mp4", duration=20)
                # The bot's first words to the chat ("checking…") come within milliseconds of
                # the update reaching it: the clock starts there.
                await tg.wait_for(lambda c, chat=chat: c.params.get("chat_id") == chat, 60)
                received = time.monotonic()
                await tg.wait_for(
                    lambda c, chat=chat: (
                        c.method == "editMessageText" and c.params.get("chat_id") == chat
                    ),
                    timeout=120,
                )
                verdicts.append(time.monotonic() - received)
                await tg.wait_for(
                    lambda c, chat=chat: (
                        c.method == "sendPhoto" and c.params.get("chat_id") == chat
                    ),
                    timeout=120,
                )
                pictures.append(time.monotonic() - received)
            process.send_signal(signal.SIGTERM)
            await process.wait()
    print(
        f"20.5 s clip, {args.runs} runs: verdict after {statistics.median(verdicts):.2f} s "
        f"(median; min {min(verdicts):.2f}, max {max(verdicts):.2f}), evidence picture after "
        f"{statistics.median(pictures):.2f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
