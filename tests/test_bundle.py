"""Hash bundles end to end: real media, real SQLite files, the console script.

Library A gets the chair and pattern clips with ``oldclip add`` (the chair with a second source,
a fact-check's claim and its rating), is exported once per module, and every test imports that
bundle, or a damaged copy of it, into libraries of its own.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from media import (
    CHAIR,
    CHAIR_RECUT,
    DOORKNOB,
    PATTERN,
    VIDEOS,
    read_frames,
    run_cli,
    shared_fingerprint,
    write_video,
)
from storage_helpers import make_fp

import storage
from fingerprint import INDEXED_VARIANTS
from fingerprint.match import REFERENCE_VIEWS
from oldclip.config import Config
from oldclip.library import Library
from storage.bundle import export, importer, reader, spec
from storage.bundle.export import export_bundle
from storage.bundle.importer import import_bundle
from storage.bundle.spec import BundleError

PUBLISHER = "Example Newsroom"
CONTACT = "verification@example.org"
FROM = f"bundle from {PUBLISHER}"
CHAIR_TITLE = "Folding chair in a hallway"
CHAIR_SOURCE = "https://example.org/2017/chair"
FACTCHECK = "https://factcheck.example/2024/chair-is-not-a-strike"
FACTCHECK_DATE = "2016-05-01"  # earlier than the first publication A's curator knew of
PATTERN_TITLE = "Patterned cloth"
MATCH_FIELDS = (
    "title",
    "first_seen",
    "source",
    "score",
    "query_start",
    "query_end",
    "clip_start",
    "clip_end",
    "frames_matched",
    "mirrored",
)


@dataclass(frozen=True)
class Exported:
    a: Path  # library A
    bundle: Path  # A exported by `oldclip export`
    chair_id: int
    pattern_id: int


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    folder = tmp_path_factory.mktemp("bundle")
    a = folder / "a.db"
    chair_id = int(
        ok(
            run_cli(
                "add", CHAIR, "--title", CHAIR_TITLE, "--first-seen", "2017-06-20",
                "--source", CHAIR_SOURCE, "--description", "A wooden chair filmed at home",
                "--tags", "chair,demo", db=a,
            )
        )
    )  # fmt: skip
    pattern_id = int(
        ok(
            run_cli(
                "add", PATTERN, "--title", PATTERN_TITLE, "--first-seen", "2015-03-02",
                "--source", "https://example.org/2015/cloth", db=a,
            )
        )
    )  # fmt: skip
    # `oldclip add` has no flags for a second source, a claim or a rating: a fact-check
    # telling the library about the same footage (merged into the chair clip) brings them.
    db = storage.open_db(a)
    media_id = storage.get_clip(db, chair_id).media_id
    storage.add_clip(
        db,
        media_id,
        title="ignored: the clip keeps its title",
        first_seen=FACTCHECK_DATE,
        source=FACTCHECK,
        claim="Shows today's strike on a school",
        rating="False",
        source_kind="factcheck",
        source_title="No, this is not a strike",
        added_by="telegram:12345 (@curator)",
    )
    db.close()
    bundle = folder / "a.jsonl"
    out = ok(run_cli("export", bundle, "--publisher", PUBLISHER, "--contact", CONTACT, db=a))
    assert out.startswith(f"exported 2 clips to {bundle} (") and out.rstrip().endswith(PUBLISHER)
    return Exported(a, bundle, chair_id, pattern_id)


# --- helpers ----------------------------------------------------------------------------------


def dump(db_path: Path) -> dict[str, list]:
    """Every row of every table (and the schema version): the database's whole content."""
    conn = sqlite3.connect(db_path)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        content = {t: sorted(conn.execute(f'SELECT * FROM "{t}"'), key=repr) for t in tables}
        content["user_version"] = conn.execute("PRAGMA user_version").fetchall()
        return content
    finally:
        conn.close()


def import_cli(bundle: Path, db: Path) -> str:
    out = ok(run_cli("import-bundle", bundle, db=db))
    assert out.count("\n") == 1, out  # one line
    return out.strip()


def check_json(db: Path, path: Path) -> list[dict]:
    matches = json.loads(ok(run_cli("check", "--json", path, db=db)))["matches"]
    return [{k: m[k] for k in MATCH_FIELDS} for m in matches]


def clip_of(db: Path, path: Path) -> tuple[storage.Clip, list[storage.ClipSource]]:
    """The clip of a shared file in a library, found by the file's sha256, with its sources."""
    conn = storage.open_db(db)
    try:
        media = storage.media_by_sha256(conn, shared_fingerprint(path).sha256)
        clip = storage.clip_for_media(conn, media.id)
        return clip, storage.clip_sources(conn, clip.id)
    finally:
        conn.close()


def lines_of(data: bytes) -> tuple[dict, list[dict], dict]:
    lines = data.splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:-1]], json.loads(lines[-1])


def rebuild(data: bytes, edit: Callable[[dict, list[dict]], None]) -> bytes:
    """The bundle with ``edit`` applied to its header and clip lines, and a correct checksum,
    so that the validation of the edited field is what must catch it."""
    header, clips, _ = lines_of(data)
    edit(header, clips)
    body = b"".join(json.dumps(obj).encode() + b"\n" for obj in [header, *clips])
    trailer = {"end": True, "clips": len(clips), "sha256": hashlib.sha256(body).hexdigest()}
    return body + json.dumps(trailer).encode() + b"\n"


def other_library(path: Path) -> Path:
    """A library with one clip of its own, so a refused import has something to leave alone."""
    db = storage.open_db(path)
    media_id, _ = storage.add_media(db, make_fp(7))
    storage.add_clip(db, media_id, title="Their own clip", first_seen="2012-01-02", source="x")
    db.close()
    return path


# --- round trip -------------------------------------------------------------------------------


def test_round_trip_gives_the_same_matches_and_provenance(
    exported: Exported, tmp_path: Path
) -> None:
    b = tmp_path / "b.db"
    report = import_cli(exported.bundle, b)
    assert report.startswith(f"bundle from {PUBLISHER} <{CONTACT}>, written ")
    assert report.endswith(": 2 clips, 2 new, 0 merged, 0 already known")

    assert check_json(exported.a, CHAIR_RECUT) == check_json(b, CHAIR_RECUT)
    assert check_json(b, CHAIR_RECUT)[0]["first_seen"] == FACTCHECK_DATE

    for path in (CHAIR, PATTERN):
        (clip_a, sources_a), (clip_b, sources_b) = clip_of(exported.a, path), clip_of(b, path)
        fields = ("title", "description", "first_seen", "source", "verdict_url", "language")
        fields += ("tags", "claim", "rating", "benign")
        assert {f: getattr(clip_b, f) for f in fields} == {f: getattr(clip_a, f) for f in fields}
        assert clip_b.added_by == FROM
        assert [(s.url, s.first_seen, s.kind, s.title) for s in sources_b] == [
            (s.url, s.first_seen, s.kind, s.title) for s in sources_a
        ]
        assert {s.via for s in sources_b} == {FROM}
    chair, chair_sources = clip_of(b, CHAIR)
    assert (chair.claim, chair.rating, len(chair_sources)) == (
        "Shows today's strike on a school",
        "False",
        2,
    )

    # The imported media have no file: show and check must still work.
    shown = ok(run_cli("show", chair.id, db=b))
    assert CHAIR_TITLE in shown and "sha256" in shown
    card = json.loads(ok(run_cli("show", "--json", chair.id, db=b)))
    assert card["media"]["path"] is None
    assert "OLD FOOTAGE" in ok(run_cli("check", CHAIR_RECUT, db=b))


def test_bundles_leave_out_only_what_matching_never_reads(
    exported: Exported, tmp_path: Path
) -> None:
    """Mirrored and turned stored frames are never read: B, without them, matches like A."""
    # Why it holds: verification looks at stored media only through these views, and the
    # index only holds these variants; mirroring is done on the query side.
    assert {v for view in REFERENCE_VIEWS for v in view} == set(INDEXED_VARIANTS)
    assert set(spec.EXPORTED_VARIANTS) == set(INDEXED_VARIANTS)

    data = exported.bundle.read_bytes()
    header, clips, trailer = lines_of(data)
    assert header["publisher"] == {"name": PUBLISHER, "contact": CONTACT}
    assert (header["format"], header["version"], header["algorithm"], header["clips"]) == (
        "oldclip-bundle",
        1,
        "pdq-v1",
        2,
    )
    assert trailer["sha256"] == hashlib.sha256(data[: data.rindex(b"{")]).hexdigest()
    # Who at the publisher added what stays private.
    assert b"curator" not in data and b'"via"' not in data and b"added_by" not in data

    b = tmp_path / "b.db"
    import_bundle(storage.open_db(b), exported.bundle)
    library_a = Library(storage.open_db(exported.a), Config(database=exported.a))
    library_b = Library(storage.open_db(b), Config(database=b))
    for line, path in zip(clips, (CHAIR, PATTERN), strict=True):
        assert line["sha256"] == shared_fingerprint(path).sha256
        full = storage.load_fingerprint(
            library_a.db, storage.media_by_sha256(library_a.db, line["sha256"]).id
        )
        stored = storage.load_fingerprint(
            library_b.db, storage.media_by_sha256(library_b.db, line["sha256"]).id
        )
        keep = np.isin(full.variants, INDEXED_VARIANTS)
        assert not keep.all()  # A holds mirrored frames...
        assert line["fingerprint"]["frames"] == len(stored) == keep.sum()  # ...B does not
        assert np.array_equal(stored.hashes, full.hashes[keep])
        assert np.array_equal(stored.times, full.times[keep])
        assert np.array_equal(stored.variants, full.variants[keep])

    frames, _, fps = read_frames(CHAIR_RECUT, scale=0.5)
    mirrored = write_video(tmp_path / "mirrored.mp4", [f[:, ::-1] for f in frames], fps)
    queries = [CHAIR_RECUT, VIDEOS / "chair-22-with-large-logo-bar.mp4", PATTERN, DOORKNOB]
    found_mirrored = False
    for query in [*queries, mirrored]:
        fp = shared_fingerprint(query) if query != mirrored else library_a.fingerprint(query)
        seen = []
        for library in (library_a, library_b):
            seen.append(
                [
                    (
                        storage.get_media(library.db, m.match.media_id).sha256,
                        m.match.score,
                        m.match.query_start,
                        m.match.query_end,
                        m.match.ref_start,
                        m.match.ref_end,
                        m.match.frames_matched,
                        m.match.mirrored,
                    )
                    for m in library.match(fp)
                ]
            )
        assert seen[0] == seen[1], query.name
        found_mirrored |= any(m[-1] for m in seen[0])
    assert found_mirrored  # the mirrored repost was found mirrored, in both
    library_a.close()
    library_b.close()


def test_importing_twice_changes_nothing(exported: Exported, tmp_path: Path) -> None:
    b = tmp_path / "b.db"
    import_cli(exported.bundle, b)
    before = dump(b)
    assert import_cli(exported.bundle, b).endswith(": 2 clips, 0 new, 0 merged, 2 already known")
    assert dump(b) == before


def test_a_known_clip_gets_the_earlier_date_and_every_source(
    exported: Exported, tmp_path: Path
) -> None:
    b = tmp_path / "b.db"
    ok(
        run_cli(
            "add", CHAIR, "--title", "Chair, reposted", "--first-seen", "2019-03-01",
            "--source", "https://other.example/chair-2019", "--language", "ar", "--tags", "syria",
            db=b,
        )
    )  # fmt: skip
    frames_before = dump(b)["fingerprints"][0][2]
    assert import_cli(exported.bundle, b).endswith(": 2 clips, 1 new, 1 merged, 0 already known")

    chair, sources = clip_of(b, CHAIR)
    assert chair.title == "Chair, reposted"  # what B knew is never overwritten...
    assert chair.language == "ar"
    assert (chair.first_seen, chair.source) == (FACTCHECK_DATE, FACTCHECK)  # ...but dated back
    assert chair.description == "A wooden chair filmed at home"  # empty fields are filled
    assert (chair.claim, chair.rating) == ("Shows today's strike on a school", "False")
    assert chair.tags == ["syria", "chair", "demo"]
    assert [(s.url, s.first_seen, s.via) for s in sources] == [
        (FACTCHECK, FACTCHECK_DATE, FROM),
        (CHAIR_SOURCE, "2017-06-20", FROM),
        ("https://other.example/chair-2019", "2019-03-01", "cli"),
    ]
    # B's own fingerprint of the file (with its mirrored frames) is kept.
    assert dump(b)["fingerprints"][0][2] == frames_before

    shown = ok(run_cli("show", chair.id, db=b))
    assert FACTCHECK in shown and "https://other.example/chair-2019" in shown
    before = dump(b)
    assert import_cli(exported.bundle, b).endswith(": 2 clips, 0 new, 0 merged, 2 already known")
    assert dump(b) == before


@pytest.mark.parametrize(
    "forget",
    [
        "UPDATE clips SET description = NULL WHERE id = {clip}",
        "UPDATE clips SET claim = NULL, rating = NULL WHERE id = {clip}",
        "UPDATE clips SET tags = '[\"chair\"]' WHERE id = {clip}",
        f"DELETE FROM clip_sources WHERE clip_id = {{clip}} AND url = '{CHAIR_SOURCE}'",
        "UPDATE clip_sources SET first_seen = '2018-01-01' "
        f"WHERE clip_id = {{clip}} AND url = '{CHAIR_SOURCE}'",
        "UPDATE clip_sources SET first_seen = '2018-01-01' "
        f"WHERE clip_id = {{clip}} AND url = '{FACTCHECK}'",
        "UPDATE clips SET first_seen = '2020-01-01', source = 'elsewhere' WHERE id = {clip}",
        "DELETE FROM fingerprints WHERE media_id = {media}",
    ],
)
def test_whatever_the_library_lacks_is_merged_back(
    exported: Exported, tmp_path: Path, forget: str
) -> None:
    """Re-importing skips clips the library fully knows: anything missing must still merge."""
    db = storage.open_db(tmp_path / "b.db")
    import_bundle(db, exported.bundle)

    def known() -> list:
        return [
            sorted(db.execute("SELECT media_id, frame_count, hashes FROM fingerprints")),
            sorted(
                db.execute(
                    "SELECT title, description, first_seen, source, tags, claim, rating FROM clips"
                )
            ),
            sorted(db.execute("SELECT url, first_seen, kind, title, via FROM clip_sources")),
        ]

    before = known()
    media = storage.media_by_sha256(db, shared_fingerprint(CHAIR).sha256).id
    clip = storage.clip_for_media(db, media).id
    db.execute(forget.format(clip=clip, media=media))
    assert known() != before
    report = import_bundle(db, exported.bundle)
    assert (report.new, report.merged, report.unchanged) == (0, 1, 1)
    assert known() == before
    db.close()


def test_new_clips_are_stored_as_add_clip_would_store_them(
    exported: Exported, tmp_path: Path
) -> None:
    """New media take a fast path; media already there (no clip yet) go through add_clip."""
    fast, merged = tmp_path / "fast.db", tmp_path / "merged.db"
    assert import_bundle(storage.open_db(fast), exported.bundle).new == 2
    db = storage.open_db(merged)
    for path in (CHAIR, PATTERN):
        storage.add_media(db, shared_fingerprint(path))
    report = import_bundle(db, exported.bundle)
    assert (report.new, report.merged, report.unchanged) == (2, 0, 0)

    def rows(path: Path) -> list:
        conn = sqlite3.connect(path)
        try:
            return sorted(
                conn.execute(
                    "SELECT m.sha256, c.title, c.description, c.first_seen, c.source, "
                    "c.verdict_url, c.language, c.tags, c.added_by, c.claim, c.rating, c.benign, "
                    "s.url, s.first_seen, s.kind, s.title, s.via "
                    "FROM clips c JOIN media m ON m.id = c.media_id "
                    "JOIN clip_sources s ON s.clip_id = c.id"
                )
            )
        finally:
            conn.close()

    assert rows(fast) == rows(merged)


def test_the_benign_flag_travels(exported: Exported, tmp_path: Path) -> None:
    a = tmp_path / "a.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{exported.a}{suffix}").exists():
            shutil.copy(f"{exported.a}{suffix}", f"{a}{suffix}")
    db = storage.open_db(a)
    storage.set_benign(db, exported.pattern_id)
    export_bundle(db, tmp_path / "benign.jsonl", publisher=PUBLISHER)
    b = storage.open_db(tmp_path / "b.db")
    import_bundle(b, exported.bundle)  # first without the flag...
    pattern = storage.media_by_sha256(b, shared_fingerprint(PATTERN).sha256)
    assert not storage.clip_for_media(b, pattern.id).benign
    report = import_bundle(b, tmp_path / "benign.jsonl")  # ...then from the benign copy
    assert (report.merged, report.unchanged) == (1, 1)
    assert storage.clip_for_media(b, pattern.id).benign


def test_gzip_bundles_are_recognised_by_their_bytes(exported: Exported, tmp_path: Path) -> None:
    db = storage.open_db(exported.a)
    report = export_bundle(db, tmp_path / "a.jsonl.gz", publisher=PUBLISHER, contact=CONTACT)
    db.close()
    packed = (tmp_path / "a.jsonl.gz").read_bytes()
    assert packed[:2] == b"\x1f\x8b" and report.bytes == len(packed)
    assert (
        gzip.decompress(packed).splitlines()[1:-1]
        == exported.bundle.read_bytes().splitlines()[1:-1]
    )
    renamed = tmp_path / "from-a.bundle"
    renamed.write_bytes(packed)
    assert import_cli(renamed, tmp_path / "b.db").endswith("2 new, 0 merged, 0 already known")


def test_a_failed_export_leaves_no_half_bundle(
    exported: Exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "shared.jsonl"
    target.write_text("the previous bundle\n")
    calls = []

    def failing(*args):
        calls.append(args)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args)

    real = export._fingerprint_json
    monkeypatch.setattr(export, "_fingerprint_json", failing)
    db = storage.open_db(exported.a)
    with pytest.raises(BundleError, match="cannot write bundle .*No space left on device"):
        export_bundle(db, target, publisher=PUBLISHER)
    db.close()
    assert target.read_text() == "the previous bundle\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.jsonl"]


# --- the command line -------------------------------------------------------------------------


def test_export_takes_the_publisher_from_the_config(exported: Exported, tmp_path: Path) -> None:
    bundle = tmp_path / "a.jsonl"
    refused = run_cli("export", bundle, db=exported.a)
    assert refused.returncode == 1 and not refused.stdout
    assert refused.stderr.startswith("oldclip: error: say who the bundle is from: --publisher")
    assert refused.stderr.count("\n") == 1 and not bundle.exists()

    config = tmp_path / "config.toml"
    config.write_text(
        '[library]\npublisher = "Config Newsroom"\npublisher_contact = "desk@config.example"\n'
    )
    out = ok(run_cli("--config", config, "export", bundle, db=exported.a))
    assert out.strip().endswith("from Config Newsroom")
    header = json.loads(bundle.read_bytes().splitlines()[0])
    assert header["publisher"] == {"name": "Config Newsroom", "contact": "desk@config.example"}
    out = ok(run_cli("--config", config, "export", bundle, "--publisher", "Flag", db=exported.a))
    assert out.strip().endswith("from Flag")

    config.write_text("[library]\npublisher = 5\n")
    wrong = run_cli("--config", config, "export", bundle, db=exported.a)
    assert wrong.returncode == 1 and "library.publisher must be text in quotes" in wrong.stderr


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("flip", r"line 4: its checksum does not match .*ask Example Newsroom for a fresh copy"),
        ("truncate", r"ends in the middle of this line, so it is incomplete"),
        ("no_trailer", r"ends after 2 of 2 clips without its end line"),
        ("version", r"line 1: it is a version 2 bundle, newer .* Upgrade oldclip to import it"),
        ("garbage", r"line 1: it does not start with a bundle header.*`oldclip export`"),
    ],
)
def test_the_cli_refuses_a_damaged_bundle_in_one_line(
    exported: Exported, tmp_path: Path, damage: str, message: str
) -> None:
    data = exported.bundle.read_bytes()
    damaged = {
        "flip": lambda: _flip_hash_character(data),
        "truncate": lambda: data[: len(data) // 2],
        "no_trailer": lambda: data[: data.rindex(b"{")],
        "version": lambda: data.replace(b'"version":1', b'"version":2', 1),
        "garbage": lambda: b"\x00\xffPK this is not a bundle\n" * 3,
    }[damage]()
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(damaged)
    b = other_library(tmp_path / "b.db")
    before = dump(b)
    result = run_cli("import-bundle", bad, db=b)
    assert result.returncode == 1 and not result.stdout
    assert result.stderr.startswith("oldclip: error: bundle bad.jsonl")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "Nothing was imported" in result.stderr
    assert re.search(message, result.stderr), result.stderr
    assert dump(b) == before


def _flip_hash_character(data: bytes) -> bytes:
    """One character of the second line's hashes changed into another valid base64 one."""
    at = data.index(b'"hashes":"', data.index(b"\n")) + 100
    replacement = b"B" if data[at : at + 1] != b"B" else b"C"
    return data[:at] + replacement + data[at + 1 :]


def _gzip_cut(data: bytes) -> bytes:
    packed = gzip.compress(data)
    return packed[: len(packed) - 40]


def _fingerprint_edit(key: str, value) -> Callable[[dict, list[dict]], None]:
    def edit(header: dict, clips: list[dict]) -> None:
        clips[0]["fingerprint"][key] = value(clips[0]["fingerprint"])

    return edit


def _clip_edit(key: str, value) -> Callable[[dict, list[dict]], None]:
    def edit(header: dict, clips: list[dict]) -> None:
        clips[-1]["clip"][key] = value

    return edit


def _short_hashes(fp: dict) -> str:
    return base64.b64encode(base64.b64decode(fp["hashes"])[:-32]).decode()


def _bad_variant(fp: dict) -> str:
    codes = bytearray(base64.b64decode(fp["variants"]))
    codes[3] = 9
    return base64.b64encode(bytes(codes)).decode()


# (name, damage to the bundle's bytes, what the message must say)
DAMAGES: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("empty", lambda d: b"", r"the file is empty"),
    ("not json", lambda d: b"hello\n", r"line 1: it does not start with a bundle header"),
    (
        "other format",
        lambda d: d.replace(b"oldclip-bundle", b"othertool-bundle", 1),
        r'does not start with a \{"format": "oldclip-bundle"\} header',
    ),
    (
        "newer version",
        lambda d: rebuild(d, lambda h, c: h.update(version=7)),
        r"version 7 bundle, newer than this oldclip reads",
    ),
    (
        "version not a number",
        lambda d: rebuild(d, lambda h, c: h.update(version="1")),
        r"line 1: the header's version '1' is not a bundle version",
    ),
    (
        "unknown algorithm",
        lambda d: rebuild(d, lambda h, c: h.update(algorithm="pdq-v9")),
        r"made with algorithm 'pdq-v9', which this oldclip does not use.*pdq-v1 fingerprints",
    ),
    (
        "no publisher",
        lambda d: rebuild(d, lambda h, c: h.update(publisher={"name": " "})),
        r"bad header: publisher.name must be a non-empty name",
    ),
    (
        "terminal escape in the publisher",
        lambda d: rebuild(d, lambda h, c: h["publisher"].update(name="\x1b[2JEvil")),
        r"publisher.name must be one line of at most 200 printable characters",
    ),
    (
        "flipped character",
        _flip_hash_character,
        r"line 4: its checksum does not match its contents",
    ),
    ("cut short", lambda d: d[: len(d) - 200], r"line 3: the file ends in the middle of this"),
    ("no end line", lambda d: d[: d.rindex(b"{")], r"ends after 2 of 2 clips without its end line"),
    (
        "a clip line missing",
        lambda d: rebuild(d, lambda h, c: c.pop()),
        r"the end line says 1 clips and the header 2, but the file holds 1",
    ),
    (
        "more clips than announced",
        lambda d: rebuild(d, lambda h, c: h.update(clips=1)),
        r"line 3: there are more clip lines than the 1 announced",
    ),
    (
        "data after the end",
        lambda d: d + b'{"sha256": "00"}\n',
        r"there is more data after the end line \(line 4\)",
    ),
    (
        "malformed line",
        lambda d: d.replace(b"\n", b'\n{"sha256": \n', 1),
        r"line 2: it is not valid JSON",
    ),
    ("a list, not an object", lambda d: d.replace(b"\n", b"\n[1, 2]\n", 1), r"found a list"),
    ("deep nesting", lambda d: d.replace(b"\n", b"\n" + b"[" * 100_000 + b"\n", 1), r"not valid"),
    ("not UTF-8", lambda d: d.replace(b"\n", b'\n{"a": "\xff\xfe"}\n', 1), r"not UTF-8 text"),
    (
        "NaN",
        lambda d: rebuild(d, lambda h, c: c[0].update(duration=float("nan"))),
        r"line 2: it is not valid JSON \(NaN is not a number JSON allows\)",
    ),
    (
        "hashes of the wrong length",
        lambda d: rebuild(d, _fingerprint_edit("hashes", _short_hashes)),
        r"line 2: fingerprint.hashes is 9760 bytes, expected 9792 \(306 frames x 32\)",
    ),
    (
        "not base64",
        lambda d: rebuild(d, _fingerprint_edit("times", lambda fp: "not*base64")),
        r"line 2: fingerprint.times is not valid base64",
    ),
    (
        "frames as a string",
        lambda d: rebuild(d, _fingerprint_edit("frames", lambda fp: "225")),
        r'fingerprint.frames must be a whole number >= 0, got "225"',
    ),
    (
        "unknown variant",
        lambda d: rebuild(d, _fingerprint_edit("variants", _bad_variant)),
        r"fingerprint.variants holds an unknown variant code 9",
    ),
    (
        "bad date",
        lambda d: rebuild(d, _clip_edit("first_seen", "2017-02-30")),
        r'line 3: clip.first_seen "2017-02-30" is not a real date written YYYY-MM-DD',
    ),
    (
        "date in another form",
        lambda d: rebuild(d, lambda h, c: c[0]["sources"][0].update(first_seen="20170620")),
        r"line 2: sources\[1\].first_seen \"20170620\" is not a real date",
    ),
    (
        "tags as a string",
        lambda d: rebuild(d, _clip_edit("tags", "chair,demo")),
        r"clip.tags must be a list of strings",
    ),
    (
        "benign as a word",
        lambda d: rebuild(d, _clip_edit("benign", "yes")),
        r'clip.benign must be true or false, got "yes"',
    ),
    (
        "empty title",
        lambda d: rebuild(d, _clip_edit("title", "  ")),
        r"clip.title must be a non-empty string",
    ),
    (
        "huge width",
        lambda d: rebuild(d, lambda h, c: c[0].update(width=10**30)),
        r"width must be a whole number >= 0 or null",
    ),
    (
        "bad sha256",
        lambda d: rebuild(d, lambda h, c: c[0].update(sha256="not-hex")),
        r'sha256 must be 64 hex digits, got "not-hex"',
    ),
    (
        "lone surrogate",
        lambda d: rebuild(d, _clip_edit("title", "\ud800")),
        r"a string holds an invalid \\u escape \(a lone surrogate\)",
    ),
    (
        "unknown source kind",
        lambda d: rebuild(d, lambda h, c: c[0]["sources"][0].update(kind="rumour")),
        r"sources\[1\].kind must be one of publication, factcheck",
    ),
    ("gzip cut short", _gzip_cut, r"the gzip compression is damaged or cut short"),
]


@pytest.mark.parametrize(
    ("damage", "message"), [(d, m) for _, d, m in DAMAGES], ids=[n for n, _, _ in DAMAGES]
)
def test_a_damaged_or_hostile_bundle_changes_nothing(
    exported: Exported,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: Callable[[bytes], bytes],
    message: str,
) -> None:
    # One clip per batch: the clips before the damage are written before it is found, so
    # what is tested is that they are rolled back (with 256, a two-clip bundle would fail
    # before the writer saw anything).
    monkeypatch.setattr(importer, "READ_AHEAD_BATCH", 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(damage(exported.bundle.read_bytes()))
    path = other_library(tmp_path / "b.db")
    before = dump(path)
    db = storage.open_db(path)
    with pytest.raises(BundleError, match=message) as refused:
        import_bundle(db, bad)
    db.close()
    assert str(refused.value).startswith("bundle bad.jsonl")
    assert "Nothing was imported." in str(refused.value)
    assert dump(path) == before


def test_lines_and_inflation_are_capped(
    exported: Exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A huge line or a decompression bomb is refused as it streams, not after."""
    data = exported.bundle.read_bytes()
    db = storage.open_db(other_library(tmp_path / "b.db"))
    before = dump(tmp_path / "b.db")

    monkeypatch.setattr(spec, "MAX_LINE_BYTES", 4096)
    (tmp_path / "long.jsonl").write_bytes(data)
    with pytest.raises(BundleError, match=r"line 2: the line is longer than"):
        import_bundle(db, tmp_path / "long.jsonl")
    monkeypatch.undo()

    # The same clip line over and over compresses extremely well: a bomb in miniature.
    header, clips, _ = lines_of(data)
    clips[0].pop("signals", None)  # long signal data (over gzip's 32 KB window) would not repeat
    line = json.dumps(clips[0]).encode() + b"\n"
    header["clips"] = 5000
    bomb = gzip.compress(json.dumps(header).encode() + b"\n" + line * 5000)
    assert len(bomb) * 20 < len(line) * 5000
    (tmp_path / "bomb.jsonl.gz").write_bytes(bomb)
    monkeypatch.setattr(reader, "INFLATE_ALLOWANCE", 64 * 1024)
    with pytest.raises(BundleError, match=r"inflates to more than 20 times its compressed size"):
        import_bundle(db, tmp_path / "bomb.jsonl.gz")
    db.close()
    assert dump(tmp_path / "b.db") == before


def test_a_busy_library_is_reported_not_crashed(exported: Exported, tmp_path: Path) -> None:
    path = other_library(tmp_path / "b.db")
    before = dump(path)
    db = storage.open_db(path)
    db.execute("PRAGMA busy_timeout = 100")
    blocker = sqlite3.connect(path)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BundleError, match=r"database is locked. Nothing was imported; if"):
            import_bundle(db, exported.bundle)
    finally:
        blocker.rollback()
        blocker.close()
        db.close()
    assert dump(path) == before


def test_links_that_are_not_web_links_are_left_out_of_an_imported_bundle(
    exported: Exported, tmp_path: Path
) -> None:
    """A bundle's fact-check link ends up in href="..." of public answers: a `javascript:` one
    is left out (said in the summary), and the rest of the bundle is imported as usual."""

    def hostile(header: dict, clips: list[dict]) -> None:
        for clip in clips:
            clip["clip"]["verdict_url"] = "javascript:alert(document.cookie)"
            clip["sources"].append(
                {"url": "JaVaScRiPt:alert(1)", "first_seen": "2010-01-01", "kind": "factcheck"}
            )
        clips[1]["clip"]["source"] = "data:text/html,<script>alert(1)</script>"

    bad = tmp_path / "hostile.jsonl"
    bad.write_bytes(rebuild(exported.bundle.read_bytes(), hostile))
    b = tmp_path / "b.db"
    summary = import_cli(bad, b)
    assert summary.endswith(
        ": 2 clips, 2 new, 0 merged, 0 already known; 5 links that were not web links left out"
    )
    db = storage.open_db(b)
    try:
        clips = storage.list_clips(db)
        assert len(clips) == 2
        for clip in clips:
            assert clip.verdict_url is None
            assert clip.source.startswith("https://"), clip.source
            urls = [s.url for s in storage.clip_sources(db, clip.id)]
            assert all(u.startswith("https://") for u in urls), urls
            assert clip.first_seen > "2010-01-01"  # the refused source's date did not count
    finally:
        db.close()
