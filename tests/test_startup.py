"""Start-up of the command line: a command loads what it uses, not the whole service.

Every `oldclip` call from a script or a newsroom's cron pays its imports; the bot, the
watchers, page import and the fingerprinting engine cost about a second of CPU together, more
than `list` or `show` take to run.  CPU thresholds would be flaky on a busy machine, so these
tests pin which heavy packages each command loads (``bench/startup.py`` gives the seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from media import CHAIR

from oldclip.cli import build_parser
from watchers.kinds import KIND_NAMES
from watchers.registry import KINDS

REPO = Path(__file__).resolve().parents[1]
# The service's heavy parts, by top-level package.
HEAVY = {"av", "faiss", "pdqhash", "PIL", "telegram", "aiohttp", "trafilatura", "extruct", "yt_dlp"}
LOADED = """
import json, sys
from oldclip.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def loaded_modules(*args: str, db: Path) -> set[str]:
    """Modules a fresh process has imported after running ``oldclip ARGS``."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED, "--db", str(db), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return set(report["modules"])


def loaded_by(*args: str, db: Path) -> set[str]:
    """Top-level packages a fresh process has imported after running ``oldclip ARGS``."""
    return {name.split(".")[0] for name in loaded_modules(*args, db=db)}


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    from media import run_cli

    db = tmp_path_factory.mktemp("startup") / "library.db"
    run_cli("add", CHAIR, "--title", "Chair", "--first-seen", "2017-06-20",
            "--source", "https://example.org/chair", db=db)  # fmt: skip
    return db


# What the commands that only read or write rows of the library must not load: the above, and
# numpy (~0.1 s: fingerprints), the page parsers and HTML trees of the watchers, OpenCV.
NOT_FOR_ROWS = HEAVY | {"numpy", "bs4", "lxml", "cv2", "sqlite_utils"}


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("list",),
        ("show", "1"),
        ("list", "--json"),
        ("reposts",),
        ("feeds", "list"),
        ("feeds", "add", "telegram", "@startup_news"),
        ("benign", "list"),
        ("status",),
    ],
)
def test_commands_on_rows_load_no_numpy_decoder_bot_or_watchers(library, args):
    assert loaded_by(*args, db=library) & NOT_FOR_ROWS == set()


def test_feeds_list_loads_the_kinds_of_the_configs_feeds_only(library, tmp_path):
    """`feeds list` shows the config's [[feeds]] (added on the way), loading their kinds only."""
    config = tmp_path / "config.toml"
    config.write_text('[[feeds]]\nkind = "bluesky"\ntarget = "news.bsky.social"\n')
    modules = loaded_modules("--config", str(config), "feeds", "list", db=library)
    assert {name.split(".")[0] for name in modules} & NOT_FOR_ROWS == set()
    assert "watchers.bluesky" in modules
    assert not {"watchers.factcheck", "watchers.pages", "watchers.rss"} & modules


def test_help_loads_no_numpy_or_sqlite(library):
    assert not loaded_by("--help", db=library) & {"numpy", "psycopg"}


def test_help_still_lists_every_feed_kind(capsys):
    """The kinds named in `feeds add --help` (from watchers.kinds) are the registry's."""
    assert sorted(KINDS) == sorted(KIND_NAMES)
    assert all(name == KINDS[name].KIND for name in KIND_NAMES)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["feeds", "add", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert all(name in shown for name in KIND_NAMES)


def test_lazy_exports_are_the_modules_own():
    """`from fingerprint import X` and `from storage import X` give the defining module's X."""
    import fingerprint
    import storage
    from fingerprint import hashing, index, match, settings
    from storage import db, library
    from storage.bundle import export

    assert fingerprint.HashIndex is index.HashIndex
    assert fingerprint.find_matches is match.find_matches
    assert fingerprint.fingerprint_file is hashing.fingerprint_file
    assert fingerprint.Limits is settings.Limits
    assert storage.open_db is db.open_db
    assert storage.export_bundle is export.export_bundle
    assert storage.list_clips is library.list_clips
    assert set(fingerprint.__all__) <= set(dir(fingerprint))
    assert set(storage.__all__) <= set(dir(storage))
    with pytest.raises(AttributeError):
        getattr(fingerprint, "no_such_thing")  # noqa: B009


@pytest.mark.parametrize("args", [("list",), ("check", str(CHAIR))])
def test_commands_load_no_event_loop(library, args):
    """The event loop and the storage threads are the services' (``replica.keep_fresh``): a
    command that opens the library loads neither (asyncio and its thread pool: ~0.02 CPU s of
    every `check`, `list`, `show`; bench/startup.py)."""
    assert not loaded_modules(*args, db=library) & {"asyncio", "concurrent.futures"}


@pytest.mark.parametrize("args", [("list",), ("check", str(CHAIR))])
def test_an_up_to_date_library_is_opened_without_the_migration_steps(library, args):
    """Opening a library whose schema is current needs its version number only
    (``storage.versions``): the steps and their PostgreSQL form are imported when a step is
    due, not by every `check` and `list` (~2.5 ms of imports)."""
    assert not loaded_modules(*args, db=library) & {"storage.migrations", "storage.pgschema"}


def test_check_loads_neither_other_commands_nor_every_image_reader(library):
    """`check` imports its own command's module, not those of `watch`, `feeds`, `add` or the
    services (the feeds' and page import's modules come with them), and Pillow tries the photo
    formats' readers on the video, not its ~45 readers (each imported): ~25 ms of a `check`."""
    modules = loaded_modules("check", str(CHAIR), db=library)
    assert "oldclip.commands.check" in modules
    assert not {
        m for m in modules if m.startswith("oldclip.commands.") and m != "oldclip.commands.check"
    }
    assert "oldclip.feeds" not in modules
    assert not {"PIL.PdfImagePlugin", "PIL.DdsImagePlugin", "PIL.PsdImagePlugin"} & modules
