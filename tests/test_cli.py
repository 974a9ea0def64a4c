"""The ``oldclip`` console script, run as a user runs it: a subprocess on a real SQLite file.

The original chair clip is added once per module (fingerprinting it is the slow part); tests
that change the library work on their own copy of that database in tmp_path.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from media import BRIDGE, CHAIR, CHAIR_RECUT, DOORKNOB, IMAGES, VIDEOS, run_cli

import storage
from oldclip.config import load_config
from oldclip.library import Library


def oldclip_command(db: Path) -> list[str]:
    return [sys.executable, "-m", "oldclip", "--db", str(db)]


TITLE = "Chair filmed in a flat, 2014"
FIRST_SEEN = "2014-07-17"
SOURCE = "https://archive.example/chair"
MATCH_KEYS = {
    "clip_id",
    "title",
    "first_seen",
    "source",
    "score",
    "query_start",
    "query_end",
    "clip_start",
    "clip_end",
    "frames_matched",
}


@dataclass(frozen=True)
class Seeded:
    db: Path
    clip_id: int
    stdout: str


def add_chair(db: Path):
    return run_cli(
        "add", CHAIR, "--title", TITLE, "--first-seen", FIRST_SEEN, "--source", SOURCE,
        "--description", "a folding chair, not a battlefield", "--tags", "chair, test",
        db=db,
    )  # fmt: skip


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    db = tmp_path_factory.mktemp("seeded") / "lib.db"
    result = add_chair(db)
    assert result.returncode == 0, result.stderr
    return Seeded(db, int(result.stdout.strip()), result.stdout)


@pytest.fixture
def own_db(seeded: Seeded, tmp_path: Path) -> Path:
    """A private copy of the seeded library, for tests that change it."""
    db = tmp_path / "lib.db"
    for suffix in ("", "-wal", "-shm"):
        source = seeded.db.with_name(seeded.db.name + suffix)
        if source.exists():
            shutil.copy(source, db.with_name(db.name + suffix))
    return db


def listed(db: Path) -> list[dict]:
    result = run_cli("list", "--json", db=db)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def check_json(db: Path, path: Path) -> dict:
    result = run_cli("check", "--json", path, db=db)
    report = json.loads(result.stdout)
    # The documented exit status: 0 old footage, 3 nothing old found.
    assert result.returncode == (0 if report["verdict"] == "old" else 3), result.stderr
    return report


def one_line_error(result) -> str:
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("oldclip: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


# --- add / list -------------------------------------------------------------------------------


def test_add_prints_the_new_clip_id(seeded: Seeded) -> None:
    assert seeded.stdout.strip() == str(seeded.clip_id)
    [clip] = listed(seeded.db)
    assert clip["id"] == seeded.clip_id
    assert (clip["title"], clip["first_seen"], clip["source"]) == (TITLE, FIRST_SEEN, SOURCE)
    assert clip["tags"] == ["chair", "test"]
    assert clip["added_by"] == "cli"


def test_adding_the_same_file_again_keeps_one_clip(seeded: Seeded, own_db: Path) -> None:
    again = add_chair(own_db)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(seeded.clip_id)
    assert "already in the library" in again.stderr
    assert [c["id"] for c in listed(own_db)] == [seeded.clip_id]


def test_list_text_shows_id_date_and_title(seeded: Seeded) -> None:
    result = run_cli("list", db=seeded.db)
    assert result.returncode == 0
    [line] = result.stdout.strip().splitlines()
    assert line.split()[:2] == [str(seeded.clip_id), FIRST_SEEN]
    assert line.endswith(TITLE)


def test_list_of_an_empty_library_says_how_to_add(tmp_path: Path) -> None:
    result = run_cli("list", db=tmp_path / "lib.db")
    assert result.returncode == 0
    assert "empty" in result.stdout and "oldclip add" in result.stdout
    assert listed(tmp_path / "lib.db") == []


def test_bad_first_seen_is_refused_and_stores_nothing(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    result = run_cli(
        "add", BRIDGE, "--title", "Bridge", "--first-seen", "17/07/2014", "--source", "x", db=db
    )
    assert "YYYY-MM-DD" in one_line_error(result)
    assert result.stdout == ""
    assert listed(db) == []
    # Nothing half-stored either: the refused file must not be reported as known footage.
    assert check_json(db, BRIDGE)["matches"] == []


def test_a_future_first_seen_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    result = run_cli(
        "add", BRIDGE, "--title", "Bridge", "--first-seen", "2099-01-01", "--source", "x", db=db
    )
    assert "2099-01-01 is in the future" in one_line_error(result)
    assert listed(db) == []


def test_clip_ids_are_never_given_again_after_a_removal(tmp_path: Path) -> None:
    """An id written in a ticket must never come to mean another clip."""
    db = tmp_path / "lib.db"
    first = run_cli(
        "add", BRIDGE, "--title", "B", "--first-seen", "2010-05-01", "--source", "s", db=db
    )
    assert run_cli("remove", first.stdout.strip(), db=db).returncode == 0
    second = run_cli(
        "add", DOORKNOB, "--title", "D", "--first-seen", "2011-01-01", "--source", "s", db=db
    )
    assert second.returncode == 0, second.stderr
    assert int(second.stdout) > int(first.stdout)
    assert "no clip" in one_line_error(run_cli("show", first.stdout.strip(), db=db))


def test_unreadable_file_is_refused_with_its_name(tmp_path: Path) -> None:
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"this is not a video" * 100)
    result = run_cli("check", bogus, db=tmp_path / "lib.db")
    line = one_line_error(result)
    assert "clip.mp4" in line


# --- check ------------------------------------------------------------------------------------


def test_check_recut_says_old_footage_with_title_and_date(seeded: Seeded) -> None:
    result = run_cli("check", CHAIR_RECUT, db=seeded.db)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert CHAIR_RECUT.name in text and "OLD FOOTAGE" in text
    assert TITLE in text
    assert FIRST_SEEN in text and SOURCE in text
    assert "no match" not in text


def test_check_json_has_the_documented_fields(seeded: Seeded) -> None:
    report = check_json(seeded.db, CHAIR_RECUT)
    assert report["fingerprint_ms"] > 0
    [match] = report["matches"]
    assert set(match) >= MATCH_KEYS
    assert match["clip_id"] == seeded.clip_id
    assert (match["title"], match["first_seen"], match["source"]) == (TITLE, FIRST_SEEN, SOURCE)
    assert 0.8 <= match["score"] <= 1.0
    assert match["frames_matched"] >= 10
    assert match["query_start"] <= match["query_end"]
    assert match["clip_start"] <= match["clip_end"]
    # The re-cut drops the first 2 s of the original.
    assert match["clip_start"] - match["query_start"] == pytest.approx(2.0, abs=0.6)


def test_check_json_gives_scripts_what_the_text_shows(seeded: Seeded) -> None:
    report = check_json(seeded.db, CHAIR_RECUT)
    assert report["verdict"] == "old"
    [match] = report["matches"]
    assert match["old"] is True
    assert match["description"] == "a folding chair, not a battlefield"
    assert {"claim", "rating", "verdict_url"} <= set(match)
    assert report["library"] == {"path": str(seeded.db), "clips": 1}


def test_check_unrelated_video_finds_nothing(seeded: Seeded) -> None:
    report = check_json(seeded.db, DOORKNOB)
    assert (report["verdict"], report["matches"]) == ("no_match", [])
    result = run_cli("check", DOORKNOB, db=seeded.db)
    assert result.returncode == 3
    first = result.stdout.splitlines()[0]
    assert first == f"{DOORKNOB.name}: no match in the archive of 1 clip."


def test_check_against_an_empty_library_says_so_and_where_it_is(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    result = run_cli("check", DOORKNOB, db=db)
    assert result.returncode == 3
    assert f"the library at {db} has no clips yet" in result.stdout
    assert "oldclip add" in result.stdout


def test_check_a_folder_or_a_link_it_cannot_download_is_a_clear_error(tmp_path: Path) -> None:
    assert "is a folder" in one_line_error(run_cli("check", tmp_path, db=tmp_path / "l.db"))
    line = one_line_error(run_cli("check", "https://127.0.0.1/x.mp4", db=tmp_path / "l.db"))
    assert "https://127.0.0.1/x.mp4: not a link to a post on a supported site" in line
    assert "save the file and check it" in line


def test_old_footage_says_one_item_not_items(seeded: Seeded) -> None:
    result = run_cli("check", CHAIR_RECUT, db=seeded.db)
    assert "It matches 1 item in the archive." in result.stdout
    assert "(s)" not in result.stdout


def test_check_photo_against_a_photo_library(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    added = run_cli(
        "add", BRIDGE, "--title", "Bridge", "--first-seen", "2010-05-01", "--source", "s", db=db
    )
    assert added.returncode == 0, added.stderr
    [match] = check_json(db, IMAGES / "bridge-2-rotate-90.jpg")["matches"]
    assert match["title"] == "Bridge"
    assert match["media_kind"] == "photo"
    text = run_cli("check", IMAGES / "bridge-2-rotate-90.jpg", db=db).stdout
    # Photo words: a rotated photo is not "mirrored", and a photo has no seconds.
    assert "the same photo, rotated or flipped" in text
    assert "0:00" not in text and "frames agree" not in text


# --- show / remove ----------------------------------------------------------------------------


def test_show_text(seeded: Seeded) -> None:
    result = run_cli("show", str(seeded.clip_id), db=seeded.db)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for expected in (TITLE, FIRST_SEEN, SOURCE, "a folding chair", "chair, test", "480x720"):
        assert expected in text
    assert "video" in text


def test_show_json(seeded: Seeded) -> None:
    result = run_cli("show", str(seeded.clip_id), "--json", db=seeded.db)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["id"] == seeded.clip_id
    assert shown["title"] == TITLE
    assert shown["media"]["kind"] == "video"
    assert (shown["media"]["width"], shown["media"]["height"]) == (480, 720)
    assert shown["media"]["sha256"] and shown["media"]["size"] == CHAIR.stat().st_size


def test_remove_then_check_finds_nothing(seeded: Seeded, own_db: Path) -> None:
    result = run_cli("remove", str(seeded.clip_id), db=own_db)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"removed clip {seeded.clip_id}: {TITLE}"
    assert listed(own_db) == []
    assert check_json(own_db, CHAIR_RECUT)["matches"] == []
    # and the clip is gone for good
    assert run_cli("show", str(seeded.clip_id), db=own_db).returncode == 1


@pytest.mark.parametrize("command", ["show", "remove"])
def test_unknown_clip_id(seeded: Seeded, own_db: Path, command: str) -> None:
    result = run_cli(command, "999", db=own_db)
    line = one_line_error(result)
    assert "no clip 999" in line
    assert result.stdout == ""
    assert len(listed(own_db)) == 1


# --- configuration ----------------------------------------------------------------------------


def test_oldclip_db_environment_variable_picks_the_database(seeded: Seeded, tmp_path) -> None:
    result = run_cli("list", "--json", db=None, env={"OLDCLIP_DB": str(seeded.db)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [c["id"] for c in json.loads(result.stdout)] == [seeded.clip_id]


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_config_file_picks_the_database(seeded: Seeded, tmp_path: Path) -> None:
    config = write_config(tmp_path / "oldclip.toml", f'[library]\ndatabase = "{seeded.db}"\n')
    result = run_cli("--config", config, "list", "--json", db=None, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [c["id"] for c in json.loads(result.stdout)] == [seeded.clip_id]


def test_db_flag_overrides_the_config_file(seeded: Seeded, tmp_path: Path) -> None:
    config = write_config(tmp_path / "oldclip.toml", f'[library]\ndatabase = "{seeded.db}"\n')
    other = tmp_path / "other.db"
    result = run_cli("--config", config, "list", "--json", db=other, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert other.exists()


def test_config_toml_in_the_working_folder_is_read(seeded: Seeded, tmp_path: Path) -> None:
    write_config(tmp_path / "config.toml", f'[library]\ndatabase = "{seeded.db}"\n')
    result = run_cli("list", "--json", db=None, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[matching]\nmin_scor = 0.5\n", "unknown key matching.min_scor"),
        ("[limits]\nmax_pixels = 'big'\n", "limits.max_pixels must be"),
        ("[library]\ndatabse = 'elsewhere.db'\n", "unknown key library.databse"),
        ("[matching\n", "not valid TOML"),
    ],
    ids=["unknown-key", "wrong-type", "misspelt-database", "bad-toml"],
)
def test_invalid_config_is_a_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    config = write_config(tmp_path / "oldclip.toml", text)
    result = run_cli("--config", config, "list", db=tmp_path / "lib.db", cwd=tmp_path)
    line = one_line_error(result)
    assert expected in line
    assert "oldclip.toml" in line


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("--config", tmp_path / "nope.toml", "list", db=tmp_path / "lib.db")
    assert "nope.toml" in one_line_error(result)


def test_config_limits_apply_to_add(tmp_path: Path) -> None:
    config = write_config(tmp_path / "oldclip.toml", "[limits]\nmax_duration = 10.0\n")
    result = run_cli(
        "--config", config,
        "add", CHAIR, "--title", "t", "--first-seen", FIRST_SEEN, "--source", "s",
        db=tmp_path / "lib.db", cwd=tmp_path,
    )  # fmt: skip
    line = one_line_error(result)
    assert CHAIR.name in line and "long" in line


# --- import -----------------------------------------------------------------------------------


def manifest_rows(folder: Path) -> list[dict]:
    """Rows for two files copied into the folder (a manifest names files inside it)."""
    for source in (VIDEOS / "pattern-sd-grey-bar.mp4", BRIDGE):
        shutil.copyfile(source, folder / source.name)
    return [
        {
            "file": "pattern-sd-grey-bar.mp4",
            "title": "Grey pattern",
            "first_seen": "2014-08-01",
            "source": "https://archive.example/recut",
            "tags": "pattern,grey",
        },
        {
            "file": BRIDGE.name,
            "title": "Bridge",
            "first_seen": "2010-05-01",
            "source": "https://archive.example/bridge",
            "tags": "",
        },
    ]


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_import_manifest(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    rows = manifest_rows(folder)
    if kind == "json":
        for row in rows:
            row["tags"] = [t for t in row["tags"].split(",") if t]
        (folder / "manifest.json").write_text(json.dumps(rows), encoding="utf-8")
    else:
        with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    db = tmp_path / "lib.db"

    result = run_cli("import", folder, db=db)
    assert result.returncode == 0, result.stderr
    assert "added 2, already in the library 0, failed 0" in result.stdout
    clips = listed(db)
    assert [(c["title"], c["first_seen"]) for c in clips] == [
        ("Grey pattern", "2014-08-01"),
        ("Bridge", "2010-05-01"),
    ]
    assert clips[0]["tags"] == ["pattern", "grey"]
    assert clips[0]["added_by"] == f"import:manifest.{kind}"

    if kind == "json":
        return  # re-importing is checked once, with the CSV manifest
    again = run_cli("import", folder, db=db)
    assert again.returncode == 0, again.stderr
    assert "added 0, already in the library 2, failed 0" in again.stdout
    assert len(listed(db)) == 2


def test_import_without_manifest_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("import", tmp_path, db=tmp_path / "lib.db")
    assert "no manifest" in one_line_error(result)


def write_csv(folder: Path, rows: list[dict], delimiter: str = ",") -> None:
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_import_problems_say_the_line_and_the_file(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    rows = manifest_rows(folder)
    rows[1]["title"] = ""  # the second row: line 3 of the CSV (the header is line 1)
    if kind == "json":
        (folder / "manifest.json").write_text(json.dumps(rows), encoding="utf-8")
    else:
        write_csv(folder, rows)
    result = run_cli("import", folder, db=tmp_path / "lib.db")
    assert result.returncode == 1
    where = "manifest.csv line 3" if kind == "csv" else "manifest.json item 2"
    assert f"oldclip: {where} ({BRIDGE.name}): missing title" in result.stderr
    assert "added 1, already in the library 0, failed 1" in result.stdout


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_import_reads_semicolon_and_tab_separated_manifests(tmp_path: Path, delimiter: str) -> None:
    """Spreadsheets in many locales save CSV with semicolons (or tabs)."""
    folder = tmp_path / "batch"
    folder.mkdir()
    write_csv(folder, manifest_rows(folder), delimiter)
    result = run_cli("import", folder, db=tmp_path / "lib.db")
    assert result.returncode == 0, result.stderr
    assert "added 2, already in the library 0, failed 0" in result.stdout


def test_import_with_an_unrecognised_header_says_what_it_expects(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "manifest.csv").write_text("name,titel,date,from\nx.mp4,X,2014-01-01,here\n")
    line = one_line_error(run_cli("import", folder, db=tmp_path / "lib.db"))
    assert "the header was not recognised" in line
    assert "expected comma-separated columns file,title,first_seen,source" in line


def test_import_interrupted_says_what_was_saved(tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    rows = []
    for video in sorted(VIDEOS.glob("*.mp4")):
        shutil.copyfile(video, folder / video.name)
        rows.append({"file": video.name, "title": video.stem, "first_seen": "2014-08-01",
                     "source": "https://archive.example/" + video.stem})  # fmt: skip
    write_csv(folder, rows)
    db = tmp_path / "lib.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLDCLIP_")}
    process = subprocess.Popen(
        [*oldclip_command(db), "import", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while saved_clips(db) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    saved = saved_clips(db)
    assert 1 <= saved < len(rows)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    noun = "row" if saved == 1 else "rows"
    assert f"oldclip: interrupted: {saved} {noun} saved ({saved} added" in stderr
    assert "run the same import again to go on: the rows saved are skipped" in stderr


def saved_clips(db: Path) -> int:
    """Clips in the database, read as another process writes it."""
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        try:
            return conn.execute("SELECT count(*) FROM clips").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # the schema is not there yet
                return 0
            raise  # anything else would hide the clips saved meanwhile


# --- output and help ----------------------------------------------------------------------------


def test_show_piped_into_head_is_not_a_traceback(seeded: Seeded) -> None:
    command = f"{shlex.join(oldclip_command(seeded.db))} show {seeded.clip_id} | head -1"
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=seeded.db.parent
    )
    assert result.stdout.strip().startswith("clip:")
    assert result.stderr == ""


def test_help_names_the_default_library_and_the_variables(tmp_path: Path) -> None:
    text = " ".join(run_cli("--help", db=None).stdout.split())
    assert "OLDCLIP_DB" in text and "OLDCLIP_CONFIG" in text
    assert "library.db" in text


def test_feeds_every_without_a_unit_is_refused(tmp_path: Path) -> None:
    result = run_cli(
        "feeds", "add", "rss", "https://example.org/feed", "--every", "10", db=tmp_path / "l.db"
    )
    assert "'10' has no unit: write 10s" in one_line_error(result)


def test_watch_with_no_feeds_says_so(tmp_path: Path) -> None:
    result = run_cli("watch", "--once", db=tmp_path / "l.db")
    assert "no feeds to watch" in result.stderr and "oldclip feeds add" in result.stderr


# --- one rule for "old" -------------------------------------------------------------------------


def sight(db: Path, path: Path, seen_at: datetime) -> None:
    """Archive a file as the watchers do: fingerprinted, stored, sighted in a post."""
    library = Library.open(load_config(None, db))
    try:
        media_id = library.add_fingerprint(library.fingerprint(path))
        storage.add_sighting(
            library.db, media_id, url="https://cdn.example/v.mp4", source="rss",
            seen_at=seen_at.isoformat(), post_url="https://news.example/post/1",
        )  # fmt: skip
    finally:
        library.close()


def test_footage_the_watchers_archived_minutes_ago_is_not_old(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    sight(db, CHAIR, datetime.now(UTC) - timedelta(minutes=12))
    result = run_cli("check", CHAIR_RECUT, db=db)
    assert result.returncode == 3, result.stderr
    assert "OLD FOOTAGE" not in result.stdout
    assert "seen before, 12 minutes ago, at https://news.example/post/1" in result.stdout
    assert check_json(db, CHAIR_RECUT)["verdict"] == "seen_recently"


def test_a_sighting_older_than_the_threshold_is_old(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    sight(db, CHAIR, datetime.now(UTC) - timedelta(days=3))
    result = run_cli("check", CHAIR_RECUT, db=db)
    assert result.returncode == 0, result.stderr
    assert "OLD FOOTAGE" in result.stdout and "seen before: first seen" in result.stdout


def test_a_library_clip_ranks_above_a_same_day_sighting(own_db: Path, seeded: Seeded) -> None:
    # Today's sighting of another copy of the chair scores higher than the 2014 clip.
    sight(own_db, CHAIR_RECUT, datetime.now(UTC) - timedelta(hours=1))
    matches = check_json(own_db, CHAIR_RECUT)["matches"]
    assert len(matches) == 2
    assert matches[0]["clip_id"] == seeded.clip_id and matches[0]["old"] is True
    assert matches[1]["clip_id"] is None and matches[1]["old"] is False
