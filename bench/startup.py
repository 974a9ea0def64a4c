"""CPU time of one `oldclip` command, start to exit: what every call from a script pays.

    python bench/startup.py [--runs 7] [--src DIR]

Each command runs ``--runs`` times in a fresh process (``python -m oldclip``) against a
throw-away library holding one clip; the figure is the median user+system CPU seconds of the
process, read from ``os.wait4`` (CPU, not wall: the machine may be busy with other work).
``--src`` runs the oldclip found in another checkout (e.g. ``git archive`` of an older commit)
with this interpreter, for a before/after comparison.  Target: under 0.3 s for the commands
that do not fingerprint (``--help``, ``list``, ``show``); ``check`` adds its file's decoding.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "media" / "videos" / "chair-20-sd-bar.mp4"
CLIP = ROOT.parent / "shared" / "media" / "videos" / "chair-orig-22-sd-bar.mp4"

MISSING = "no-such-file.mp4"
COMMANDS = [
    ["--help"],
    ["list"],
    ["show", "1"],
    ["feeds", "list"],
    ["check", MISSING],  # what a script pays before any decoding (exits 1: no such file)
    ["check", str(VIDEO)],
]


def cpu_seconds(args: list[str], env: dict[str, str], src: Path) -> float:
    """User + system CPU of one fresh ``python -m oldclip ARGS`` process run in ``src``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "oldclip", *args],
        cwd=src,  # `python -m` looks in the working directory first
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 3) and MISSING not in args:  # 3: `check` found nothing old
        raise SystemExit(f"oldclip {' '.join(args)} failed: {proc.stderr.read().decode()}")
    proc.stderr.close()
    return usage.ru_utime + usage.ru_stime


def measure(runs: int, src: Path = ROOT, commands: list[list[str]] = COMMANDS) -> None:
    """Print the median CPU seconds of each command, against a one-clip library."""
    src = src.resolve()
    with tempfile.TemporaryDirectory(prefix="oldclip-startup-") as folder:
        env = {
            **os.environ,
            "PYTHONPATH": str(src),
            "OLDCLIP_DB": str(Path(folder) / "library.db"),
            "OLDCLIP_CONFIG": str(Path(folder) / "config.toml"),
        }
        (Path(folder) / "config.toml").write_text("")  # the defaults, whatever ./config.toml says
        add = ["add", str(CLIP), "--title", "Chair", "--first-seen", "2017-06-20"]
        cpu_seconds([*add, "--source", "https://example.org/chair"], env, src)
        print(f"oldclip from {src}: median CPU s of {runs} fresh processes (target < 0.3)")
        for command in commands:
            times = [cpu_seconds(command, env, src) for _ in range(runs)]
            shown = " ".join(a if a != str(VIDEO) else VIDEO.name for a in command)
            print(f"  oldclip {shown:28} {statistics.median(times):6.3f}  (min {min(times):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--src", type=Path, default=ROOT, help="checkout whose oldclip to run")
    args = parser.parse_args()
    measure(args.runs, args.src)


if __name__ == "__main__":
    main()
