"""The library builds itself from pages: news articles, fact-checks, fact-checkers' feeds and
other newsrooms' bundles, all served by the local feed server with the shared test media."""

from __future__ import annotations

import json
from pathlib import Path

from feed_server import FIXTURES_DIR as FIXTURES
from feed_server import FeedServer
from media import CHAIR, CHAIR_RECUT, PATTERN, frame_at, run_cli, save_jpeg
from test_watch_cli import oldclip, write_config
from test_watch_pipeline import alerts, make_config, pipeline_for

import storage
from oldclip.config import FeedSpec
from oldclip.feeds import add_feed, sync_config_feeds
from oldclip.library import Library
from oldclip.watch import run_once
from storage.bundle.export import export_bundle

ARTICLE_URL = "https://frontline-report.example/2017/06/20/drone-footage-chair-aleppo/"
FACTCHECK_URL = "https://www.misbar.example/en/factcheck/2024/12/06/old-drone-footage-rafah"
ARTICLE_TITLE = "Drone Footage: Chair Thrown From Balcony in Aleppo"
FACTCHECK_TITLE = "Old Drone Footage Circulated as Shelling of Rafah This Week"


def serve_frames(server: FeedServer, tmp_path: Path) -> None:
    """The pages' pictures: chair frames (poster, fact-check cover) and a pattern frame."""
    for name, (video, second) in {
        "chair-poster.jpg": (CHAIR, 3.0),
        "factcheck-frame.jpg": (CHAIR, 8.0),
        "factcheck-cover.jpg": (CHAIR, 12.0),
    }.items():
        pixels, _ = frame_at(video, second)
        server.files[name] = save_jpeg(tmp_path / name, pixels).read_bytes()


def saved_page(server: FeedServer, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(server.fixture_bytes(name))
    return path


def requested(server: FeedServer) -> set[str]:
    return {r.path for r in server.requests}


async def test_a_news_article_becomes_a_clip_dated_by_the_page(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    serve_frames(feed_server, tmp_path)
    config = write_config(tmp_path)
    page = saved_page(feed_server, tmp_path, "article-chair.html")

    run = await oldclip(config, "import-page", page)
    assert run.returncode == 0, run.stderr
    assert f"page: {ARTICLE_TITLE}" in run.stdout
    assert f"dated 2017-06-20, {ARTICLE_URL}" in run.stdout
    assert "+ clip 1 (new clip)" in run.stdout
    # The poster is a frame of the same footage: one clip, not two.
    assert "+ clip 1 (already in the library with this source)" in run.stdout
    # Only the article's own media were fetched: not the logo, related posts or comments.
    fetched = requested(feed_server)
    assert "/media/videos/chair-orig-22-sd-bar.mp4" in fetched
    for outside in ("logo.png", "related-convoy.jpg", "avatar.jpg", "comment-pic.jpg"):
        assert f"/files/{outside}" not in fetched

    check = await oldclip(config, "check", CHAIR_RECUT, "--json")
    assert check.returncode == 0, check.stderr
    (found,) = json.loads(check.stdout)["matches"]
    assert (found["title"], found["first_seen"], found["source"]) == (
        ARTICLE_TITLE,
        "2017-06-20",
        ARTICLE_URL,
    )


async def test_a_fact_check_adds_its_claim_verdict_and_link_to_the_clip_it_shows(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    serve_frames(feed_server, tmp_path)
    config = write_config(tmp_path)
    article = saved_page(feed_server, tmp_path, "article-chair.html")
    assert (await oldclip(config, "import-page", article)).returncode == 0

    factcheck = saved_page(feed_server, tmp_path, "factcheck-chair.html")
    run = await oldclip(config, "import-page", factcheck)
    assert run.returncode == 0, run.stderr
    assert f"fact-check: {FACTCHECK_TITLE}" in run.stdout
    assert "verdict: Misleading" in run.stdout
    assert "footage seen 2024-12-04 at https://x.example/someone/status/1864" in run.stdout
    # Its pictures are frames of the chair footage already in the library: merged into it.
    assert "+ clip 1 (already in the library: added this page as a source)" in run.stdout
    assert "/files/most-read.jpg" not in requested(feed_server)

    show = await oldclip(config, "show", "1", "--json")
    card = json.loads(show.stdout)
    assert card["title"] == ARTICLE_TITLE  # what is known is never overwritten
    assert card["first_seen"] == "2017-06-20"  # the earliest date wins
    assert card["rating"] == "Misleading"
    assert card["claim"].startswith("Video shows a chair thrown from a balcony")
    assert card["verdict_url"] == FACTCHECK_URL
    assert [(s["first_seen"], s["kind"], s["url"]) for s in card["sources"]] == [
        ("2017-06-20", "publication", ARTICLE_URL),
        ("2024-12-04", "publication", "https://x.example/someone/status/1864"),
        ("2024-12-06", "factcheck", FACTCHECK_URL),
    ]
    check = await oldclip(config, "check", CHAIR_RECUT)
    assert f"fact-check (Misleading): {FACTCHECK_URL}" in check.stdout


async def test_a_page_without_a_date_is_refused_until_one_is_given(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    html = feed_server.fixture_bytes("article-chair.html").decode()
    for dated in (
        '<meta property="article:published_time" content="2017-06-20T14:05:00+00:00">',
        '"datePublished": "2017-06-20T14:05:00+00:00", '
        '"dateModified": "2023-02-01T09:00:00+00:00",',
        '<time class="entry-date published" datetime="2017-06-20T14:05:00+00:00">'
        "June 20, 2017</time>",
    ):
        assert dated in html
        html = html.replace(dated, "")
    undated_url = ARTICLE_URL.replace("/2017/06/20/", "/")  # a dated address would date it
    html = html.replace(ARTICLE_URL, undated_url)
    page = tmp_path / "undated.html"
    page.write_text(html, encoding="utf-8")

    refused = await oldclip(config, "import-page", page)
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"no publication date found on {undated_url}" in refused.stderr
    assert "--first-seen YYYY-MM-DD" in refused.stderr
    listed = await oldclip(config, "list", "--json")
    assert json.loads(listed.stdout) == []  # comments' and related posts' dates were not used

    dated = await oldclip(config, "import-page", page, "--first-seen", "2017-06-21")
    assert dated.returncode == 0, dated.stderr
    assert "dated 2017-06-21" in dated.stdout


async def test_a_saved_page_needs_to_say_where_it_was_published(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    page = tmp_path / "page.html"
    page.write_text("<html><body><article><h1>Hi</h1></article></body></html>")
    run = await oldclip(config, "import-page", page)
    assert run.returncode == 1
    assert "give its address with --url URL" in run.stderr


async def test_a_saved_page_whose_video_is_gone_from_its_server_uses_the_saved_copy(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    """Years later the article is archived but its server is gone: the video saved with the page
    (named as in its address) stands in, and only what is missing is reported."""
    config = write_config(tmp_path)
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused
    html = (FIXTURES / "article-chair.html").read_bytes().replace(b"{BASE}", dead.encode())
    page = tmp_path / "archived.html"
    page.write_bytes(html)

    gone = await oldclip(config, "import-page", page)
    assert gone.returncode == 1
    assert f"- skipped {dead}/media/videos/{CHAIR.name}: " in gone.stdout
    assert "Nothing was added." in gone.stdout

    saved = await oldclip(config, "import-page", page, "--media-dir", CHAIR.parent, "--json")
    assert saved.returncode == 0, saved.stderr
    report = json.loads(saved.stdout)
    assert report["clips"] == [
        {
            "media": f"{dead}/media/videos/{CHAIR.name}",
            "clip_id": 1,
            "outcome": "new",
            "file": str(CHAIR),
        }
    ]
    assert [s["media"] for s in report["skipped"]] == [f"{dead}/files/chair-poster.jpg"]
    check = await oldclip(config, "check", CHAIR_RECUT, "--json")
    (found,) = json.loads(check.stdout)["matches"]
    assert (found["title"], found["first_seen"]) == (ARTICLE_TITLE, "2017-06-20")

    missing = await oldclip(config, "import-page", page, "--media-dir", tmp_path / "nowhere")
    assert missing.returncode == 1
    assert f"--media-dir {tmp_path / 'nowhere'}: no such folder" in missing.stderr


async def test_a_fact_checkers_feed_fills_the_library_and_alerts_link_the_debunk(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    serve_frames(feed_server, tmp_path)
    factchecks = FeedSpec(kind="factcheck", target=feed_server.url("/feeds/factchecks.xml"))
    config = make_config(tmp_path / "library.db", feeds=(factchecks,))
    library = Library.open(config)
    try:
        sync_config_feeds(library, config)
        async with pipeline_for(library, config) as pipeline:
            (feed,) = storage.list_feeds(library.db)
            assert await pipeline.poll_feed(feed.id) == 1
            report = await pipeline.work_queue()
        assert (report.library, report.reposts) == (2, 0)  # cover + body frame; no alert
        clips = storage.list_clips(library.db)
        assert len(clips) == 2  # two different frames: nothing says they are one clip
        for clip in clips:
            assert (clip.title, clip.rating, clip.verdict_url) == (
                FACTCHECK_TITLE,
                "Misleading",
                FACTCHECK_URL,
            )
            assert clip.first_seen == "2024-12-04"  # the claim's first appearance it names
        assert alerts(library, "repost") == []

        # Someone posts the video again: the alert points to the existing debunk.
        add_feed(library, "mastodon", feed_server.url("/feeds/mastodon_tag.json"), interval_s=60)
        again = await run_once(library, config)
        assert again.reposts == 1
        (alert,) = alerts(library, "repost")
        assert alert.payload["clip_title"] == FACTCHECK_TITLE
        assert (alert.payload["verdict_url"], alert.payload["rating"]) == (
            FACTCHECK_URL,
            "Misleading",
        )
        assert alert.payload["claim"].startswith("Video shows a chair thrown")
    finally:
        library.close()


async def test_bundles_pulled_from_another_newsroom_merge_once(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    # The other newsroom's library: the chair and the pattern clips.
    theirs = tmp_path / "theirs.db"
    for video, title in ((CHAIR, "Chair, Aleppo 2017"), (PATTERN, "Test pattern")):
        added = run_cli(
            "add", video, "--title", title, "--first-seen", "2017-06-20", "--source",
            f"https://newsroom.example/{video.stem}", db=theirs,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    db = storage.open_db(theirs)
    export_bundle(db, tmp_path / "theirs.jsonl", publisher="Newsroom Example")
    db.close()
    feed_server.files["theirs.jsonl"] = (tmp_path / "theirs.jsonl").read_bytes()

    spec = FeedSpec(kind="bundle", target=feed_server.url("/files/theirs.jsonl"))
    config = make_config(tmp_path / "library.db", feeds=(spec,))
    library = Library.open(config)
    try:
        sync_config_feeds(library, config)
        (feed,) = storage.list_feeds(library.db)
        async with pipeline_for(library, config) as pipeline:
            assert await pipeline.poll_feed(feed.id) == 2
            assert await pipeline.poll_feed(feed.id) == 0  # unchanged: 304, nothing imported
            titles = {c.title for c in storage.list_clips(library.db)}
            assert titles == {"Chair, Aleppo 2017", "Test pattern"}
            # The running library matches the pulled clips without a restart.
            (found,) = library.match(library.fingerprint(CHAIR_RECUT))
            assert found.clip.title == "Chair, Aleppo 2017"

            # A damaged bundle is a feed failure with the reason; the library is untouched.
            body = bytearray(feed_server.files["theirs.jsonl"])
            body[len(body) // 2] ^= 0x01
            feed_server.files["theirs.jsonl"] = bytes(body)
            assert await pipeline.poll_feed(feed.id) is None
        (feed,) = storage.list_feeds(library.db)
        assert feed.consecutive_failures == 1 and "bundle" in feed.last_error
        assert storage.count_clips(library.db) == 2
    finally:
        library.close()


async def test_a_page_dated_only_in_its_text_reports_its_embedded_player(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    page = Path(__file__).parent / "pages" / "text-date-only.html"
    url = "https://combatclips.example/2017/06/20/tank-crushes-infantry/"
    run = await oldclip(config, "import-page", page, "--url", url)
    # Nothing downloadable without --embeds: exit 1, and the report says why and what to do.
    assert run.returncode == 1, run.stderr
    assert f"dated 2017-06-20, {url}" in run.stdout  # "first published on June 20, 2017 by"
    assert (
        "- skipped https://www.youtube.com/watch?v=TaNkDrOnE17: an embedded player: pass "
        "--embeds to download it with yt-dlp" in run.stdout
    )
    assert "Nothing was added." in run.stdout

    # The fact-checker downloaded the video by hand, named by its YouTube id.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / "TaNkDrOnE17.mp4").symlink_to(CHAIR)
    (downloads / "unrelated.mp4").symlink_to(PATTERN)
    saved = await oldclip(config, "import-page", page, "--url", url, "--media-dir", downloads)
    assert saved.returncode == 0, saved.stderr
    assert (
        "+ clip 1 (new clip): https://www.youtube.com/watch?v=TaNkDrOnE17 "
        f"(from {downloads / 'TaNkDrOnE17.mp4'})" in saved.stdout
    )
    listed = json.loads((await oldclip(config, "list", "--json")).stdout)
    assert [(c["first_seen"], c["source"]) for c in listed] == [("2017-06-20", url)]


async def test_a_date_read_from_the_page_text_is_shown_as_such(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    serve_frames(feed_server, tmp_path)
    config = write_config(tmp_path)
    html = feed_server.fixture_bytes("article-chair.html").decode()
    for dated, plain in (
        ('<meta property="article:published_time" content="2017-06-20T14:05:00+00:00">', ""),
        ('"datePublished": "2017-06-20T14:05:00+00:00", ', ""),
        (
            '<time class="entry-date published" datetime="2017-06-20T14:05:00+00:00">'
            "June 20, 2017</time>",
            "June 20, 2017",
        ),
    ):
        assert dated in html
        html = html.replace(dated, plain)
    undated_url = ARTICLE_URL.replace("/2017/06/20/", "/")
    page = tmp_path / "byline-only.html"
    page.write_text(html.replace(ARTICLE_URL, undated_url), encoding="utf-8")

    run = await oldclip(config, "import-page", page)
    assert run.returncode == 0, run.stderr
    assert f"dated 2017-06-20, {undated_url}" in run.stdout
    assert "  date: from the page text, please confirm" in run.stdout
    show = await oldclip(config, "show", "1")
    assert "first seen: 2017-06-20 (from the page text, please confirm)" in show.stdout
    card = json.loads((await oldclip(config, "show", "1", "--json")).stdout)
    assert [s["date_from"] for s in card["sources"]] == ["text"]
