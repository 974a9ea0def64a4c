"""Values from strangers: bad feed items, links that are not web links, terminal escapes in
titles, manifest paths that point out of their folder.  Real subprocesses of `oldclip`, a real
loopback feed server, real SQLite files and real photos; no mocks.

What a user would notice: one bad item in a feed is recorded with its reason and the rest of
the feed (and every other feed) is processed; a `javascript:` link never gets into the library
or the feed list; a hostile title cannot drive the terminal that prints it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from feed_server import FeedServer
from media import IMAGES, run_cli
from test_watch_cli import oldclip, one_error_line, write_config

import storage
from oldclip.config import Config
from oldclip.importer import import_folder
from oldclip.library import Library
from oldclip.run import LibraryFeeds

ESC_TITLE = "\x1b]0;pwned\x07Chair \x1b[2Jin a hallway"
ESCAPED_TITLE = "\\u001b]0;pwned\\u0007Chair \\u001b[2Jin a hallway"
PHOTO_A = IMAGES / "bridge-1-original.jpg"
PHOTO_B = IMAGES / "blur-a-little.jpg"
GOOD_1 = "https://news.example/posts/1"
GOOD_2 = "https://news.example/posts/3"


def feed_xml(server: FeedServer) -> bytes:
    """Two good items around a `javascript:` one, and one whose enclosures are not web links."""
    media = server.url("/media/images/")
    items = [
        (GOOD_1, f'<enclosure url="{media}{PHOTO_A.name}" type="image/jpeg" length="0"/>'),
        ("javascript:alert(document.cookie)", f'<enclosure url="{media}x.jpg" type="image/jpeg"/>'),
        (GOOD_2, f'<enclosure url="{media}{PHOTO_B.name}" type="image/jpeg" length="0"/>'),
        (
            "https://news.example/posts/4",
            '<enclosure url="file:///etc/passwd.mp4" type="video/mp4" length="0"/>'
            '<media:content url="data:video/mp4;base64,AAAAIGZ0eXBpc29t" type="video/mp4"/>',
        ),
    ]
    entries = "".join(
        f"<item><title>Item {n}</title><link>{link}</link>{enclosure}</item>"
        for n, (link, enclosure) in enumerate(items, start=1)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>Mixed</title><link>https://news.example/</link>{entries}"
        "</channel></rss>"
    ).encode()


async def test_a_javascript_item_is_recorded_and_the_rest_of_the_feed_goes_on(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.files["mixed.xml"] = feed_xml(feed_server)
    config = write_config(tmp_path)
    mixed = await oldclip(config, "feeds", "add", "rss", feed_server.url("/files/mixed.xml"))
    other = await oldclip(config, "feeds", "add", "rss", feed_server.url("/feeds/rss.xml"))
    assert mixed.returncode == other.returncode == 0, (mixed.stderr, other.stderr)
    mixed_id = int(mixed.stdout)

    run = await oldclip(config, "watch", "--once")

    # Documented: 0 whenever the pass ran; what was skipped is said and recorded.
    assert run.returncode == 0, run.stderr
    summary = run.stdout.strip().splitlines()[-1]
    assert summary.startswith("polled 2 feeds (0 failed), ")
    assert summary.endswith(", 1 item skipped (see `oldclip feeds list`)")
    assert "skipped an item: post link 'javascript:alert(document.cookie)'" in run.stderr

    db = storage.open_db(tmp_path / "library.db")
    try:
        posts = {
            url: storage.media_of_post(db, post_id)
            for post_id, url in db.execute(
                "SELECT id, post_url FROM posts WHERE feed_id = ?", [mixed_id]
            )
        }
        # Both good items before and after the bad one: recorded and processed.
        assert set(posts) == {GOOD_1, GOOD_2, "https://news.example/posts/4"}
        for url in (GOOD_1, GOOD_2):
            (item,) = posts[url]
            assert (item.state, item.error) == ("notified", None), url
        # The enclosures that are not web links: recorded as failed, with the reason.
        refused = {m.url[:5]: m for m in posts["https://news.example/posts/4"]}
        assert set(refused) == {"file:", "data:"}
        for item in refused.values():
            assert item.state == "failed"
            assert "is not a web link: only http:// and https:// are downloaded" in item.error
        # The other feed was polled as usual.
        assert db.execute("SELECT COUNT(*) FROM posts WHERE feed_id != ?", [mixed_id]).fetchone()[0]
    finally:
        db.close()

    listed = await oldclip(config, "feeds", "list", "--json")
    feed = next(f for f in json.loads(listed.stdout) if f["id"] == mixed_id)
    assert feed["consecutive_failures"] == 0 and feed["last_error"] is None
    assert feed["skipped_items"] == 1
    assert "'javascript:alert(document.cookie)' is not a web link" in feed["last_skipped"]
    text = await oldclip(config, "feeds", "list")
    assert "1 item skipped, the latest: post link 'javascript:" in text.stdout

    again = await oldclip(config, "watch", "--once")  # served again: recorded once
    assert again.returncode == 0 and "skipped (see" not in again.stdout


@pytest.mark.parametrize("target", ["javascript:alert(1)", "javascript://alert(1)", "file:///etc"])
async def test_feeds_add_and_addfeed_refuse_links_that_are_not_web_links(
    tmp_path: Path, target: str
) -> None:
    config = write_config(tmp_path)
    run = await oldclip(config, "feeds", "add", "rss", target)
    line = one_error_line(run)
    assert "only http:// and https:// links are accepted" in line and target in line, line

    # The bot's /addfeed goes through LibraryFeeds.add, which turns refusals into ValueError.
    library = Library.open(Config(database=tmp_path / "library.db"))
    try:
        with pytest.raises(ValueError, match="only http:// and https:// links are accepted"):
            LibraryFeeds(library, library.config).add("rss", target, None)
        assert storage.list_feeds(library.db) == []
    finally:
        library.close()


async def test_a_config_feed_with_a_javascript_target_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, '\n[[feeds]]\nkind = "rss"\ntarget = "javascript:alert(1)"\n')
    run = await oldclip(config, "feeds", "list")
    line = one_error_line(run)
    assert "feed 1:" in line and "javascript:" in line
    assert storage.list_feeds(storage.open_db(tmp_path / "library.db")) == []


def test_add_refuses_a_javascript_verdict_url_or_source(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    common = ("add", PHOTO_A, "--title", "Bridge", "--first-seen", "2017-06-20")
    for extra in (
        ("--source", "https://example.org/a", "--verdict-url", "javascript:alert(1)"),
        ("--source", "javascript:alert(1)"),
        ("--source", "java\tscript:alert(1)"),
        ("--source", "data:text/html,<script>alert(1)</script>"),
    ):
        run = run_cli(*common, *extra, db=db)
        assert run.returncode == 1, (extra, run.stdout)
        (line,) = run.stderr.splitlines()
        assert line.startswith("oldclip: error: "), line
        assert "only http:// and https:// links are accepted" in line, line
    assert storage.list_clips(storage.open_db(db)) == []
    # A plain-text reference is still a source.
    ok = run_cli(*common, "--source", "BBC Arabic: evening news, 20 June 2017", db=db)
    assert ok.returncode == 0, ok.stderr


def test_escape_sequences_in_titles_are_printed_escaped(tmp_path: Path) -> None:
    db = tmp_path / "library.db"
    added = run_cli(
        *("add", PHOTO_A, "--title", ESC_TITLE, "--first-seen", "2017-06-20"),
        *("--source", "https://example.org/a", "--description", "Bell \x07 and \x9b31m CSI"),
        db=db,
    )
    assert added.returncode == 0, added.stderr
    for args in (("list",), ("show", "1"), ("list", "--json"), ("show", "1", "--json")):
        run = run_cli(*args, db=db)
        assert run.returncode == 0, run.stderr
        assert not any(ch in run.stdout for ch in "\x1b\x07\x9b\r"), (args, run.stdout)
        if "--json" in args:
            shown = json.loads(run.stdout)
            title = shown[0]["title"] if isinstance(shown, list) else shown["title"]
            assert title == ESC_TITLE  # the same value, only written safely
        else:
            assert ESCAPED_TITLE in run.stdout, run.stdout


async def test_import_page_prints_a_hostile_title_escaped(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>x</title>"
        '<meta property="og:title" content="&#27;]0;pwned&#7;Chair &#27;[2Jin a hallway">'
        '<link rel="canonical" href="https://news.example/2017/chair">'
        '<meta property="article:published_time" content="2017-06-20T10:00:00+00:00">'
        f'<meta property="og:image" content="{feed_server.url("/media/images/" + PHOTO_A.name)}">'
        '<meta property="og:description" content="A chair">'
        "</head><body><p>A chair.</p></body></html>",
        encoding="utf-8",
    )
    config = write_config(tmp_path)
    hostile = await oldclip(config, "import-page", page, "--url", "javascript:alert(1)")
    assert "'javascript:alert(1)' is not an http(s) link" in one_error_line(hostile)

    run = await oldclip(config, "import-page", page)
    assert run.returncode == 0, run.stderr
    assert not any(ch in run.stdout for ch in "\x1b\x07"), run.stdout
    assert f"page: {ESCAPED_TITLE}" in run.stdout


def test_manifest_paths_outside_the_folder_are_refused_and_good_rows_kept(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "clips"
    outside = tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    shutil.copyfile(PHOTO_A, folder / "good.jpg")
    shutil.copyfile(PHOTO_B, outside / "x.jpg")
    (folder / "link.jpg").symlink_to(outside / "x.jpg")
    rows = [
        {"file": "good.jpg", "title": "Good", "first_seen": "2017-06-20", "source": "https://a.example/1"},
        {"file": "../outside/x.jpg", "title": "Up", "first_seen": "2017-06-20", "source": "https://a.example/2"},
        {"file": str(outside / "x.jpg"), "title": "Abs", "first_seen": "2017-06-20", "source": "https://a.example/3"},
        {"file": "link.jpg", "title": "Link", "first_seen": "2017-06-20", "source": "https://a.example/4"},
    ]  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(rows), encoding="utf-8")

    library = Library.open(Config(database=tmp_path / "library.db"))
    try:
        report = import_folder(library, folder)
        assert report.added == 1
        assert [c.title for c in storage.list_clips(library.db)] == ["Good"]
    finally:
        library.close()
    absolute = outside / "x.jpg"
    assert report.problems == [
        "manifest.json item 2 (../outside/x.jpg): file '../outside/x.jpg' is outside the "
        "folder: only files inside it are imported",
        f"manifest.json item 3 ({absolute}): file '{absolute}' is an absolute path: give it "
        "relative to the folder",
        "manifest.json item 4 (link.jpg): file 'link.jpg' is outside the folder: only files "
        "inside it are imported",
    ]


@pytest.mark.parametrize(
    "value",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "data:video/mp4;base64,AAAA",
        "file:///etc/passwd",
        "https:no-host",
        "https://x.example:port/",
        "https://x.example/\x1b]0;pwned\x07",
        "//x.example/a.mp4",
        "",
    ],
)
def test_only_web_links_are_web_links(value: str) -> None:
    assert not storage.is_web_url(value)
    with pytest.raises(storage.UnsafeURLError, match="post link"):
        storage.web_url(value, "post link")


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("https://example.org/2017/chair", True),
        ("http://127.0.0.1:8000/a b.mp4", True),
        ("archive.org", True),
        ("Reuters: evening news, 20 June 2017", True),
        ("benign list: intro.mp4", True),
        ("javascript: alert(1)", False),
        ("vbscript:msgbox", False),
        ("data:text/html,x", False),
        ("mailto:desk@example.org", False),
        ("https:/broken", False),
    ],
)
def test_a_source_is_a_web_link_or_plain_text(value: str, safe: bool) -> None:
    if safe:
        assert storage.reference(value, "source") == value
    else:
        with pytest.raises(storage.UnsafeURLError, match="only http:// and https:// links"):
            storage.reference(value, "source")
