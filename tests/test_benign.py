"""The benign list, and a running library that notices what other processes changed.

A channel's intro (here: three seconds of the doorknob video) is put on the benign list.  Reposts
that open with it are still recognised by the footage that follows; the intro alone, or shared
by a library clip and an unrelated video, never makes a match or an alert.  Real videos from
../shared/media are spliced into reposts (tests/media.py), fingerprinted for real and run
through the library, the command line and the watchers' pipeline against a local feed server.

Other processes add, remove and mark clips while `oldclip run` keeps one Library for days:
every match first checks the library's version and catches up.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from media import (
    CHAIR,
    CHAIR_RECUT,
    DOORKNOB,
    PADDED,
    PATTERN,
    indexed,
    run_cli,
    splice_videos,
)
from storage_helpers import raw_sqlite

import fingerprint.match
import storage
from bot import alerts
from bot.deps import Deps
from bot.settings import BotSettings
from fingerprint import Fingerprint, HashIndex, MatchSettings, fingerprint_file
from fingerprint.match import without_ignored
from oldclip.config import Config, NetworkSettings, load_config
from oldclip.feeds import add_feed
from oldclip.library import Library
from oldclip.watch import run_once
from storage.engine import Database

CHAIR_TITLE = "Folding chair in a hallway"
CHAIR_FIRST_SEEN = "2017-06-20"
CHAIR_SOURCE = "https://example.org/2017/chair"
PATTERN_TITLE = "Patterned cloth"
SIZE = (480, 720)  # the chair footage's frame: the channel's reposts are all this size
INTRO_S = 3.0


@dataclass(frozen=True)
class Videos:
    intro: Path  # the channel's intro as it appears in its posts (from the doorknob video)
    intro_small: Path  # the same intro, posted again at a quarter of the pixels
    repost: Path  # intro, then 12 s of the chair re-cut
    bookended: Path  # intro, 8 s of the chair re-cut, the intro again as an outro
    intro_pattern: Path  # intro, then the pattern video: a library clip that opens with it
    intro_other: Path  # intro, then an unrelated video (the padded test video)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Videos:
    folder = tmp_path_factory.mktemp("benign-videos")
    intro = (DOORKNOB, 0.0, INTRO_S)

    def make(name: str, *parts: tuple[Path, float, float], size=SIZE) -> Path:
        return splice_videos(folder / name, parts, size)

    return Videos(
        intro=make("intro.mp4", intro),
        intro_small=make("intro-small.mp4", intro, size=(240, 360)),
        repost=make("repost.mp4", intro, (CHAIR_RECUT, 0.0, 12.0)),
        bookended=make("bookended.mp4", intro, (CHAIR_RECUT, 0.0, 8.0), intro),
        intro_pattern=make("intro-pattern.mp4", intro, (PATTERN, 0.0, 99.0)),
        intro_other=make("intro-other.mp4", intro, (PADDED, 0.0, 99.0)),
    )


@functools.cache
def fp_of(path: Path) -> Fingerprint:
    """Each file decoded once per session: the tests here are about matching, not decoding."""
    return fingerprint_file(path)


def open_library(db: Path) -> Library:
    return Library.open(load_config(None, db))


def add_chair(library: Library) -> int:
    clip_id, _ = library.add_clip(
        CHAIR, fp=fp_of(CHAIR), title=CHAIR_TITLE, first_seen=CHAIR_FIRST_SEEN, source=CHAIR_SOURCE
    )
    return clip_id


def add_pattern(library: Library, path: Path = PATTERN) -> int:
    clip_id, _ = library.add_clip(
        path,
        fp=fp_of(path),
        title=PATTERN_TITLE,
        first_seen="2015-03-02",
        source="https://example.org/cloth",
    )
    return clip_id


def titles(library: Library, path: Path) -> list[str]:
    return [found.clip.title if found.clip else "sighting" for found in library.match(fp_of(path))]


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Library]:
    lib = open_library(tmp_path / "library.db")
    yield lib
    lib.close()


# ---------------------------------------------------------------- benign media in matching


def test_a_repost_opening_with_the_intro_is_the_chair_and_the_intro_alone_is_nothing(
    library: Library, videos: Videos
) -> None:
    chair = add_chair(library)
    intro, created = library.add_benign(
        DOORKNOB, fp=fp_of(DOORKNOB), title="Channel intro", note="their logo"
    )
    assert created and storage.get_clip(library.db, intro).benign

    (found,) = library.match(fp_of(videos.repost))
    assert (found.clip.id, found.clip.title, found.clip.first_seen) == (
        chair,
        CHAIR_TITLE,
        CHAIR_FIRST_SEEN,
    )
    # The chair's seconds are reported, not the intro's: the re-cut starts at 0:02 of the
    # original, 3 s into the repost.
    assert found.match.query_start >= INTRO_S - 0.5
    assert found.match.ref_start - found.match.query_start == pytest.approx(2.0 - INTRO_S, abs=0.6)

    assert library.match(fp_of(videos.intro)) == []  # the intro alone: not found
    assert library.match(fp_of(DOORKNOB)) == []  # nor the benign file itself


def test_the_intro_alone_matches_nothing_even_after_the_watchers_sighted_a_repost_with_it(
    library: Library, videos: Videos
) -> None:
    add_chair(library)
    intro, _ = library.add_benign(DOORKNOB, fp=fp_of(DOORKNOB))
    # The watchers archived the repost (intro + chair) as they would any post.
    media_id = library.add_fingerprint(fp_of(videos.repost))
    storage.add_sighting(
        library.db,
        media_id,
        url="https://t.me/channel/7",
        source="telegram",
        seen_at="2024-05-01T12:00:00+00:00",
        post_url="https://t.me/channel/7",
    )
    assert library.match(fp_of(videos.intro)) == []
    assert library.match(fp_of(videos.intro_small)) == []

    # Without the benign mark the same intro is "seen before": the test means something.
    assert library.set_benign(intro, False)
    assert titles(library, videos.intro_small)
    assert library.set_benign(intro, True)
    assert library.match(fp_of(videos.intro_small)) == []


def test_a_clip_opening_with_the_intro_is_not_matched_by_another_video_with_that_intro(
    library: Library, videos: Videos
) -> None:
    clip = add_pattern(library, videos.intro_pattern)  # the library's copy opens with it
    intro, _ = library.add_benign(DOORKNOB, fp=fp_of(DOORKNOB))

    assert library.match(fp_of(videos.intro_other)) == []
    (found,) = library.match(fp_of(PATTERN))  # its own footage still finds it
    assert found.clip.id == clip

    # Without the benign mark the shared intro alone would make the match.
    library.set_benign(intro, False)
    assert PATTERN_TITLE in titles(library, videos.intro_other)


def test_an_intro_that_comes_back_as_the_outro_is_cut_at_both_ends(videos: Videos) -> None:
    benign = fp_of(DOORKNOB)
    ignore = HashIndex()
    ignore.add(7, indexed(benign))
    query = fp_of(videos.bookended)  # intro 0-3 s, chair 3-11 s, intro 11-14 s
    kept = np.unique(without_ignored(query, ignore, {7: benign}.get, MatchSettings()).times)
    times = np.unique(query.times)
    chair_end = INTRO_S + 8.0
    intro, chair, outro = (
        times < INTRO_S,
        (times >= INTRO_S) & (times < chair_end),
        times > chair_end,
    )
    assert intro.sum() >= 5 and outro.sum() >= 5  # the intro has that many frames with detail
    # At most a stray frame of either survives (fading to black, hardly hashable), which is
    # too little to match anything; nearly all of the chair between them is kept.
    assert np.isin(times[intro], kept).sum() <= 1
    assert np.isin(times[outro], kept).sum() <= 1
    assert np.isin(times[chair], kept).mean() > 0.9


def test_candidates_lose_their_benign_frames_before_verification(
    videos: Videos, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A query's copy of an intro may be edited past recognition while the library's copy is
    # not: the library's copy is cut too, so the two copies cannot match each other.
    benign = fp_of(DOORKNOB)
    reference = fp_of(videos.intro_pattern)  # intro 0-3 s, then the pattern
    ignore, index = HashIndex(), HashIndex()
    ignore.add(7, indexed(benign))
    index.add(1, indexed(reference))
    verified: list[np.ndarray] = []  # the times of each candidate as it was verified
    real_verify = fingerprint.match.verify

    def spy(query, ref, media_id, settings):
        if ref is not benign:  # not the benign clip looked for in the query or the candidate
            verified.append(np.unique(ref.times))
        return real_verify(query, ref, media_id, settings)

    monkeypatch.setattr(fingerprint.match, "verify", spy)
    load = {1: reference, 7: benign}.get
    (found,) = fingerprint.match.find_matches(
        fp_of(PATTERN), index, load, MatchSettings(), ignore=ignore
    )
    assert found.media_id == 1
    assert verified and all(times.min() >= INTRO_S for times in verified)  # without the intro


def test_with_nothing_benign_matching_is_unchanged(library: Library, videos: Videos) -> None:
    add_chair(library)
    before = library.match(fp_of(videos.repost))
    library.add_benign(PADDED, fp=fp_of(PADDED))  # benign, but nowhere in the repost
    assert [(m.clip.id, m.match) for m in library.match(fp_of(videos.repost))] == [
        (m.clip.id, m.match) for m in before
    ]


# ------------------------------------------------------------------------ the command line


def test_cli_benign_add_list_remove(tmp_path: Path, videos: Videos) -> None:
    db = tmp_path / "lib.db"
    chair = cli_add_chair(db)

    empty = run_cli("benign", "list", db=db)
    assert empty.returncode == 0 and "benign list is empty" in empty.stdout

    added = run_cli(
        "benign", "add", DOORKNOB, "--title", "Channel intro", "--note", "opens every video",
        db=db,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    intro = int(added.stdout)
    listed = run_cli("benign", "list", db=db)
    assert listed.stdout.split() == [str(intro), "Channel", "intro", "(opens", "every", "video)"]
    (row,) = json.loads(run_cli("benign", "list", "--json", db=db).stdout)
    assert (row["id"], row["title"], row["description"], row["benign"]) == (
        intro,
        "Channel intro",
        "opens every video",
        True,
    )

    repost = run_cli("check", "--json", videos.repost, db=db)
    assert [m["clip_id"] for m in json.loads(repost.stdout)["matches"]] == [chair]
    alone = run_cli("check", videos.intro, db=db)
    assert alone.returncode == 3 and "no match in the archive of 1 clip." in alone.stdout

    removed = run_cli("benign", "remove", str(intro), db=db)
    assert removed.returncode == 0 and "no longer benign" in removed.stdout
    assert "benign list is empty" in run_cli("benign", "list", db=db).stdout
    again = run_cli("check", "--json", videos.intro, db=db)
    assert [m["clip_id"] for m in json.loads(again.stdout)["matches"]] == [intro]


def test_cli_marking_the_file_of_an_existing_clip_benign(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    chair = cli_add_chair(db)

    marked = run_cli("benign", "add", CHAIR, db=db)
    assert marked.returncode == 0, marked.stderr
    assert int(marked.stdout) == chair
    assert f"is clip {chair}: marked benign" in marked.stderr
    (clip,) = json.loads(run_cli("list", "--json", db=db).stdout)  # the same clip, unchanged
    assert (clip["id"], clip["title"], clip["first_seen"], clip["benign"]) == (
        chair,
        CHAIR_TITLE,
        CHAIR_FIRST_SEEN,
        True,
    )
    assert "no match in the archive" in run_cli("check", CHAIR_RECUT, db=db).stdout

    unmarked = run_cli("benign", "remove", str(chair), db=db)
    assert unmarked.returncode == 0
    assert "OLD FOOTAGE" in run_cli("check", CHAIR_RECUT, db=db).stdout


def test_cli_benign_errors_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    chair = cli_add_chair(db)
    for args, says in (
        (("benign", "remove", "99"), "no clip 99"),
        (("benign", "remove", str(chair)), f"clip {chair} is not on the benign list"),
        (("benign", "add", tmp_path / "missing.mp4"), "missing.mp4"),
    ):
        result = run_cli(*args, db=db)
        assert result.returncode == 1, args
        assert result.stderr.startswith("oldclip: error: ") and says in result.stderr, args
        assert result.stderr.count("\n") == 1, result.stderr


def cli_add_chair(db: Path) -> int:
    add = run_cli(
        "add", CHAIR, "--title", CHAIR_TITLE, "--first-seen", CHAIR_FIRST_SEEN,
        "--source", CHAIR_SOURCE, db=db,
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    return int(add.stdout)


# ------------------------------------------------------- a long-running library catches up


def test_a_running_library_sees_clips_added_removed_and_marked_elsewhere(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    running = open_library(db)
    other = open_library(db)  # another process: its own connection
    try:
        add_chair(running)
        assert titles(running, PATTERN) == []  # index built, nothing to find yet
        assert running.refresh() is False  # nothing changed since: one tiny query

        pattern = add_pattern(other)
        assert titles(running, PATTERN) == [PATTERN_TITLE]

        other.set_benign(pattern)
        assert titles(running, PATTERN) == []
        other.set_benign(pattern, False)
        assert titles(running, PATTERN) == [PATTERN_TITLE]

        assert other.remove_clip(pattern)
        assert titles(running, PATTERN) == []
        assert titles(running, CHAIR_RECUT) == [CHAIR_TITLE]  # the rest is untouched
    finally:
        other.close()
        running.close()


def test_a_reused_media_id_stands_for_the_new_file(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    running = open_library(db)
    other = open_library(db)
    try:
        add_chair(running)
        pattern = add_pattern(other)
        assert titles(running, PATTERN) == [PATTERN_TITLE]  # indexed under its media id
        old_media = storage.get_clip(other.db, pattern).media_id

        # Removed and replaced between two checks: SQLite hands the freed id to the new file.
        other.remove_clip(pattern)
        knob, _ = other.add_clip(
            DOORKNOB, title="Doorknob", first_seen="2016-01-01", source="https://e.org/k"
        )
        assert storage.get_clip(other.db, knob).media_id == old_media

        assert titles(running, DOORKNOB) == ["Doorknob"]
        assert titles(running, PATTERN) == []
    finally:
        other.close()
        running.close()


def test_a_running_library_sees_what_the_command_line_did(tmp_path: Path, videos: Videos) -> None:
    db = tmp_path / "lib.db"
    running = open_library(db)
    try:
        add_chair(running)
        assert titles(running, PATTERN) == []

        added = run_cli(
            "add", PATTERN, "--title", PATTERN_TITLE, "--first-seen", "2015-03-02",
            "--source", "https://example.org/cloth", db=db,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert titles(running, PATTERN) == [PATTERN_TITLE]

        # Until the intro is benign, it alone makes another video match the pattern clip...
        assert titles(running, videos.intro_other) == []
        running.add_clip(
            videos.intro_pattern, title="Cloth, channel cut", first_seen="2016-05-05", source="x"
        )
        assert titles(running, videos.intro_other) == ["Cloth, channel cut"]
        marked = run_cli("benign", "add", DOORKNOB, db=db)
        assert marked.returncode == 0, marked.stderr
        assert titles(running, videos.intro_other) == []  # ...and not once it is, elsewhere

        removed = run_cli("remove", str(int(added.stdout)), db=db)
        assert removed.returncode == 0, removed.stderr
        assert titles(running, PATTERN) == ["Cloth, channel cut"]
    finally:
        running.close()


# ---------------------------------------------------------------------- the watchers' pipeline


class ChannelFeed:
    """An RSS feed of one channel on a loopback port, serving its posts' videos itself."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.items: list[tuple[str, str, str]] = []  # (post id, published RFC 822, file name)
        self.base_url = ""

    def post(self, post_id: str, published: str, video: Path) -> str:
        target = self.folder / video.name
        if not target.exists():
            shutil.copyfile(video, target)
        self.items.append((post_id, published, video.name))
        return self.post_url(post_id)

    def post_url(self, post_id: str) -> str:
        return f"https://channel.example/posts/{post_id}"

    async def _feed(self, request: web.Request) -> web.Response:
        entries = "".join(
            f"<item><title>Post {pid}</title><link>{self.post_url(pid)}</link>"
            f'<guid isPermaLink="false">{pid}</guid><pubDate>{published}</pubDate>'
            f'<enclosure url="{self.base_url}/media/{name}" type="video/mp4"/></item>'
            for pid, published, name in self.items
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>{entries}'
        return web.Response(text=body + "</channel></rss>", content_type="application/rss+xml")

    async def _media(self, request: web.Request) -> web.StreamResponse:
        path = self.folder / request.match_info["name"]
        return web.FileResponse(path, headers={"Content-Type": "video/mp4"})


@pytest.fixture
async def channel(tmp_path: Path) -> AsyncIterator[ChannelFeed]:
    folder = tmp_path / "served"
    folder.mkdir()
    feed = ChannelFeed(folder)
    app = web.Application()
    app.router.add_get("/feed.xml", feed._feed)
    app.router.add_get("/media/{name}", feed._media)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    feed.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield feed
    finally:
        await runner.cleanup()


def watching_config(tmp_path: Path) -> Config:
    """The watchers may reach the local feed server (loopback), and nothing else private."""
    return Config(
        database=tmp_path / "library.db",
        network=NetworkSettings(allow_private_addresses=False, allowed_networks=("127.0.0.0/8",)),
    )


async def test_the_watchers_alert_once_for_the_chair_and_never_for_the_intro(
    tmp_path: Path, channel: ChannelFeed, videos: Videos
) -> None:
    config = watching_config(tmp_path)
    library = Library.open(config)
    try:
        chair = add_chair(library)
        intro, _ = library.add_benign(DOORKNOB, fp=fp_of(DOORKNOB), title="Channel intro")
        add_feed(library, "rss", channel.base_url + "/feed.xml", interval_s=600)

        repost = channel.post("1", "Thu, 01 Jan 2026 10:00:00 GMT", videos.repost)
        channel.post("2", "Thu, 01 Jan 2026 11:00:00 GMT", videos.intro)  # first sighting
        first = await run_once(library, config)
        assert (first.new_posts, first.processed, first.failed_media) == (2, 2, 0)
        assert first.reposts == 1

        # Days later the intro alone again: re-encoded smaller, and the very same file.
        channel.post("3", "Mon, 05 Jan 2026 09:00:00 GMT", videos.intro_small)
        channel.post("4", "Tue, 06 Jan 2026 09:00:00 GMT", videos.intro)
        second = await run_once(library, config)
        assert (second.new_posts, second.processed, second.failed_media) == (2, 2, 0)
        assert second.reposts == 0

        (found,) = storage.list_reposts(library.db)
        assert (found.post_url, found.clip_id, found.clip_title) == (repost, chair, CHAIR_TITLE)
        assert found.first_seen == CHAIR_FIRST_SEEN
        alerts = [a for a in storage.pending_alerts(library.db, limit=100) if a.kind == "repost"]
        (alert,) = alerts
        assert alert.payload["clip_title"] == CHAIR_TITLE
        assert [p["post_url"] for p in alert.payload["posts"]] == [repost]

        # Had the intro not been benign, post 2's sighting would have made post 3 a repost.
        library.set_benign(intro, False)
        assert any(m.clip is None for m in library.match(fp_of(videos.intro_small)))
    finally:
        library.close()


async def test_an_alert_still_queued_when_its_clip_is_marked_benign_is_not_sent(
    tmp_path: Path, channel: ChannelFeed, videos: Videos
) -> None:
    """A curator who marks a clip benign (it turned out to be stock footage) stops the alerts
    about it that the watchers queued before the bot got to them."""
    config = watching_config(tmp_path)
    library = Library.open(config)
    try:
        chair = add_chair(library)
        add_feed(library, "rss", channel.base_url + "/feed.xml", interval_s=600)
        channel.post("1", "Thu, 01 Jan 2026 10:00:00 GMT", videos.repost)
        assert (await run_once(library, config)).reposts == 1
        storage.subscribe(library.db, FACT_CHECKER, FACT_CHECKER)
        unmarked = raw_sqlite(tmp_path / "unmarked.db")
        library.db.conn.backup(unmarked.conn)  # the same queue, for comparison

        library.set_benign(chair)
        assert alerts.plan(deps_for(library.db)) == 0
        assert storage.pending_alerts(library.db) == []  # done with, not retried
        assert alerts.plan(deps_for(unmarked)) == 1
        (delivery,) = storage.due_deliveries(unmarked)
        assert delivery.chat_id == FACT_CHECKER
    finally:
        library.close()


FACT_CHECKER = 4242


def deps_for(db: Database) -> Deps:
    """What alert planning reads: the database and who may receive alerts (no bot runs)."""
    return Deps(db=db, checker=None, settings=BotSettings(fact_checkers=(FACT_CHECKER,)))  # type: ignore[arg-type]
