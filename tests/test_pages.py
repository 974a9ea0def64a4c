"""Reading provenance from article and fact-check pages: dates, media, ClaimReview.

The fixtures in tests/pages/ have the shapes real sites produce (WordPress themes, a Misbar-like
fact-check, an Arabic page with microdata only).  The seed texts in shared/docs/seed-articles are
read in place, never copied.  Time limits are "does not hang" bounds for a 2-core CI machine.
"""

from __future__ import annotations

import datetime
import json
import random
import re
import time
from pathlib import Path

import pytest

from watchers.pages import PageError, PageInfo, PageMedia, embed_url, read_page
from watchers.textdates import date_in_text

PAGES = Path(__file__).resolve().parent / "pages"
SEEDS = Path(__file__).resolve().parents[2] / "shared/docs/seed-articles"
FAST = 5.0  # seconds

NEWS_HOST = "https://frontline-report.example"
MISBAR_TITLE = "Old Footage of ISIS Militants Circulated as Syrian Rebels Threatening Hamas"
NEWS_URL = (
    "https://frontline-report.example/2017/06/20/"
    "drone-footage-tank-crushes-dismounted-infantry-in-syria/"
)
MISBAR_URL = (
    "https://www.misbar.example/en/factcheck/2024/12/06/"
    "old-footage-of-isis-militants-circulated-as-syrian-rebels-threatening-hamas"
)
ARABIC_URL = "https://www.misbar.example/factcheck/2024/12/06/old-isis-video"
WP_URL = "https://combatclips.example/2017/06/20/drone-footage-tank/"
NO_DATE_URL = "https://combatclips.example/is-fighters-flee-gun-battle/"
UNDATED_URL = "https://frontline-report.example/drone-footage-tank-crushes-infantry/"


def fixture(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def page(body: str, head: str = "", url: str = "https://news.example/a/1") -> PageInfo:
    """A small page around an article body."""
    return read_page(f"<html><head>{head}</head><body>{body}</body></html>", url)


def jsonld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def media(*items: tuple[str, str, str]) -> tuple[PageMedia, ...]:
    return tuple(PageMedia(url=u, kind=k, found_in=f) for u, k, f in items)


# --- date_in_text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2017-drone-footage-tank-article.txt", datetime.date(2017, 6, 20)),
        ("2024-misbar-factcheck-old-footage.txt", datetime.date(2024, 12, 6)),
        ("recovered-footage-article.txt", None),
        ("airstrike-article-with-comments.txt", None),
    ],
)
def test_date_in_text_seed_articles(name: str, expected: datetime.date | None) -> None:
    assert date_in_text((SEEDS / name).read_text(encoding="utf-8")) == expected


@pytest.mark.parametrize(
    "byline",
    [
        "6th December 2024",
        "December 6, 2024",
        "Dec. 6th, 2024",
        "6 Dec 2024",
        "6th of December, 2024",
        "Friday 6 December 2024 10:32 GMT",
        "2024-12-06",
        "2024/12/06",
        "06.12.2024",
        "Published: Friday, December 6, 2024",
        "Posted by J. Smith on Dec 6, 2024",
        "By Ahmed Sabry | News | 6 December 2024",
    ],
)
def test_date_in_text_english_bylines(byline: str) -> None:
    text = f"Old Footage of ISIS Militants Circulated\n{byline}\nThe story begins here."
    assert date_in_text(text) == datetime.date(2024, 12, 6)


@pytest.mark.parametrize(
    "byline",
    [
        "نُشر في ٦ كانون الأول ٢٠٢٤",
        "تاريخ النشر: 6 ديسمبر 2024",
        "نشر بتاريخ ٦ ديسمبر/كانون الأول ٢٠٢٤",
        "الجمعة ٦ ديسمبر ٢٠٢٤",
        "أحمد صبري · ٦ كانون الأوّل ٢٠٢٤",
        "٠٦ كانون الاول ٢٠٢٤",
    ],
)
def test_date_in_text_arabic_bylines(byline: str) -> None:
    text = f"فيديو قديم لعناصر داعش\n{byline}\nتداول مستخدمون مقطع فيديو."
    assert date_in_text(text) == datetime.date(2024, 12, 6)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("نشر في ٢٠ حزيران ٢٠١٧", datetime.date(2017, 6, 20)),
        ("نشر في 12 أيار 2023", datetime.date(2023, 5, 12)),
        ("نشر في ٣ آذار ٢٠١٦", datetime.date(2016, 3, 3)),
        ("نشر في 1 تشرين الثاني 2019", datetime.date(2019, 11, 1)),
        ("نشر في 9 كانون الثاني 2020", datetime.date(2020, 1, 9)),
        ("نشر في 15 أغسطس 2021", datetime.date(2021, 8, 15)),
        ("نشر في 15 آب 2021", datetime.date(2021, 8, 15)),
        ("نشر في 4 جويلية 2018", datetime.date(2018, 7, 4)),
        ("نشر في ٤ يونيو ٢٠١٨", datetime.date(2018, 6, 4)),
    ],
)
def test_date_in_text_arabic_month_families(phrase: str, expected: datetime.date) -> None:
    assert date_in_text(phrase) == expected


def story(paragraphs: list[str], top: str = "Headline of the story") -> str:
    filler = "Fighters advanced on the town and the footage shows the moment of the attack. " * 3
    body = [filler] * 4 + paragraphs
    return "\n\n".join([top, *body])


def test_date_deep_in_the_body_without_a_cue_is_history_not_a_byline() -> None:
    assert date_in_text(story(["The battle of 3 March 2016 changed the front line."])) is None


def test_a_cue_inside_a_sentence_of_the_story_is_not_a_byline() -> None:
    text = story(["The video was first posted on 3 March 2016 by an Islamic State channel."])
    assert date_in_text(text) is None


def test_a_credit_line_at_the_end_counts() -> None:
    text = story(["This article was first published on 3 March 2016 by The Conversation."])
    assert date_in_text(text) == datetime.date(2016, 3, 3)


def test_a_lede_sentence_near_the_top_is_not_a_byline() -> None:
    assert date_in_text("Headline\nFighters entered Palmyra on 3 March 2016.\nMore.") is None


def test_first_publication_wins_over_an_update() -> None:
    text = "Headline\nUpdated: March 2, 2023 | Published: June 20, 2017\nStory."
    assert date_in_text(text) == datetime.date(2017, 6, 20)
    assert date_in_text("Headline\nUpdated: March 2, 2023\nStory.") == datetime.date(2023, 3, 2)


def test_a_cued_date_wins_over_a_bare_one() -> None:
    text = "Headline\n5 December 2024\nStory.\nOriginally published on 6 December 2024"
    assert date_in_text(text) == datetime.date(2024, 12, 6)


@pytest.mark.parametrize(
    "text",
    [
        "ahead of May 26 elections, in which the president is favourite",
        "In 2015, the group captured swathes of land. In 2017, it lost them.",
        "Published on 1 January 1985",
        f"Published on 1 January {datetime.date.today().year + 2}",
        "Published on 31 February 2020",
        "Published on 06/07/2017",  # June in America, July in Britain: no guess
        "",
    ],
)
def test_date_in_text_refuses(text: str) -> None:
    assert date_in_text(text) is None


def test_unambiguous_numeric_dates() -> None:
    assert date_in_text("Published on 13/07/2017") == datetime.date(2017, 7, 13)
    assert date_in_text("Published on 07/13/2017") == datetime.date(2017, 7, 13)


def test_date_in_text_on_megabytes_of_text_is_fast() -> None:
    text = "Published June 20, 2017\n" + ("3 March 2016 and 2015-01-01 happened. " * 60_000)
    started = time.monotonic()
    assert date_in_text(text) == datetime.date(2017, 6, 20)
    assert time.monotonic() - started < FAST


# --- news article with JSON-LD -----------------------------------------------------------------


def test_news_article_reads_its_own_metadata() -> None:
    info = read_page((PAGES / "news-article-jsonld.html").read_bytes(), NEWS_URL)
    assert info.url == NEWS_URL
    assert info.title == "Drone Footage: Tank Crushes Dismounted Infantry in Syria"
    assert info.published == datetime.date(2017, 6, 20)  # not dateModified 2023-03-02
    assert info.published_from == "json-ld"
    assert info.language == "en"
    assert info.description is not None and info.description.startswith("A tank from Hay’at")
    assert info.reviews == ()


def test_news_article_media_skips_chrome_related_and_comments() -> None:
    info = read_page(fixture("news-article-jsonld.html"), NEWS_URL)
    cdn = "https://cdn.frontline-report.example"
    assert info.media == media(
        (f"{cdn}/videos/2017/06/hts-tank-drone.mp4", "video", "og:video"),
        (f"{cdn}/wp-content/uploads/2017/06/hts-tank-drone-1200x675.jpg", "photo", "og:image"),
        (f"{cdn}/wp-content/uploads/2017/06/hts-tank-map-2048x1152.jpg", "photo", "img"),
        (f"{NEWS_HOST}/videos/2017/06/hts-tank-drone.mp4?_=1", "video", "video"),
    )


def without(html: str, *patterns: str) -> str:
    for pattern in patterns:
        html, count = re.subn(pattern, "", html, flags=re.S)
        assert count, pattern
    return html


JSONLD_BLOCK = r'<script type="application/ld\+json">.*?</script>'
PUBLISHED_META = r'<meta property="article:published_time"[^>]*>'
PUBLISHED_TIME = r'<time class="entry-date published"[^>]*>June 20, 2017</time>'


def test_meta_tag_is_trusted_when_there_is_no_json_ld() -> None:
    info = read_page(without(fixture("news-article-jsonld.html"), JSONLD_BLOCK), NEWS_URL)
    assert (info.published, info.published_from) == (datetime.date(2017, 6, 20), "meta")


def test_byline_time_is_trusted_when_there_is_no_metadata() -> None:
    html = without(fixture("news-article-jsonld.html"), JSONLD_BLOCK, PUBLISHED_META)
    info = read_page(html, NEWS_URL)
    assert (info.published, info.published_from) == (datetime.date(2017, 6, 20), "time")


def test_byline_text_is_read_when_there_is_no_time_element() -> None:
    html = without(fixture("news-article-jsonld.html"), JSONLD_BLOCK, PUBLISHED_META)
    html = re.sub(PUBLISHED_TIME, "June 20, 2017", html)
    info = read_page(html, NEWS_URL)
    assert (info.published, info.published_from) == (datetime.date(2017, 6, 20), "text")


def test_dates_in_comments_related_header_and_footer_are_never_used() -> None:
    html = without(
        fixture("news-article-jsonld.html"),
        JSONLD_BLOCK,
        PUBLISHED_META,
        PUBLISHED_TIME,
        r"Posted on ",
    )
    info = read_page(html, UNDATED_URL)  # its dated URL would date it
    # Left on the page: the site header's "Friday, December 6, 2024", the related articles'
    # <time>s, dated comments saying "Published first ... on June 18, 2017", the footer, the
    # updated <time>, the entry footer's <time>, "the battle of 3 March 2016" in the story.
    assert (info.published, info.published_from) == (None, None)


def test_modified_time_alone_is_not_a_publication_date() -> None:
    head = '<meta property="article:modified_time" content="2023-03-02T08:41:12+00:00">'
    head += jsonld({"@type": "NewsArticle", "dateModified": "2023-03-02"})
    assert page("<article><p>Story.</p></article>", head).published is None


def test_time_in_a_sentence_is_not_a_byline() -> None:
    body = (
        '<article><h1>Headline</h1><p>The battle of <time datetime="2016-03-03">3 March 2016'
        "</time> changed the front line.</p></article>"
    )
    assert page(body).published is None


def test_microdata_date_of_the_reviewed_claim_is_not_the_page_date() -> None:
    info = read_page(fixture("factcheck-microdata.html"), ARABIC_URL)
    assert info.published == datetime.date(2024, 12, 6)  # not the claim's 2024-12-04
    body = (
        '<div itemscope itemtype="https://schema.org/NewsArticle">'
        '<meta itemprop="datePublished" content="2019-05-01"><p>Story</p></div>'
    )
    assert (page(body).published, page(body).published_from) == (datetime.date(2019, 5, 1), "meta")


def test_implausible_metadata_dates_are_skipped() -> None:
    head = jsonld({"@type": "NewsArticle", "datePublished": "1970-01-01T00:00:00Z"})
    head += '<meta property="article:published_time" content="2018-04-09T10:00:00+03:00">'
    info = page("<article><p>Story</p></article>", head)
    assert (info.published, info.published_from) == (datetime.date(2018, 4, 9), "meta")


def test_publisher_local_date_is_kept() -> None:
    head = jsonld({"@type": "NewsArticle", "datePublished": "2017-06-20T23:30:00-05:00"})
    assert page("<p>x</p>", head).published == datetime.date(2017, 6, 20)


# --- fact-check with ClaimReview in JSON-LD ----------------------------------------------------


def test_factcheck_claimreview_page() -> None:
    info = read_page(fixture("factcheck-claimreview.html"), MISBAR_URL)
    assert info.title == MISBAR_TITLE
    assert (info.published, info.published_from) == (datetime.date(2024, 12, 6), "json-ld")
    assert info.language == "en"
    (review,) = info.reviews
    assert review.claim is not None and review.claim.startswith("Syrian rebels delivered")
    assert review.rating == "Misleading"
    assert review.review_url == MISBAR_URL
    assert review.review_date == datetime.date(2024, 12, 6)
    assert review.author == "Misbar"  # resolved through the @graph's @id reference
    assert review.appearance_url == "https://www.youtube.com/watch?v=IsIsGaza15x"
    assert review.appearance_date == datetime.date(2015, 6, 30)


def test_factcheck_media_are_the_article_s_own() -> None:
    info = read_page(fixture("factcheck-claimreview.html"), MISBAR_URL)
    cdn = "https://cdn.misbar.example/uploads/2024/12/06"
    assert info.media == media(
        (f"{cdn}/isis-militants-video-cover.jpg", "photo", "og:image"),
        ("https://x.com/SyriaWatchLive/status/1864701122334455667", "embed", "link"),
        (f"{cdn}/supporting-1.png", "photo", "img"),
        ("https://www.youtube.com/watch?v=IsIsGaza15x", "embed", "iframe"),
        (f"{cdn}/supporting-2-800.png", "photo", "img"),
        (f"{cdn}/supporting-3.jpg", "photo", "img"),
    )


# --- fact-check in Arabic with microdata -------------------------------------------------------


def test_arabic_microdata_factcheck() -> None:
    info = read_page(fixture("factcheck-microdata.html").encode("utf-8"), ARABIC_URL)
    assert info.title == "فيديو قديم لعناصر داعش يُتداول على أنه لفصائل سورية تهدد حماس"
    # The byline's date, not the site header's "today", the sidebar's or the 2015 in the story.
    assert (info.published, info.published_from) == (datetime.date(2024, 12, 6), "text")
    assert info.language == "ar"
    (review,) = info.reviews
    assert review.claim is not None and review.claim.startswith("فصائل سورية معارضة")
    assert review.rating == "مضلل"
    assert review.author == "مسبار"
    assert review.review_url is not None
    assert review.review_url.startswith("https://www.misbar.example/factcheck/2024/12/06/")
    assert review.review_date is None
    assert review.appearance_url == "https://t.me/syria_frontline_news/4521"
    assert review.appearance_date == datetime.date(2024, 12, 4)
    cdn = "https://cdn.misbar.example/uploads/2024/12/06"
    assert info.media == media(
        (f"{cdn}/isis-video-ar-cover.jpg", "photo", "og:image"),
        (f"{cdn}/isis-video-ar-frame.jpg", "photo", "img"),
        ("https://t.me/syria_frontline_news/4521", "embed", "script"),
    )


# --- WordPress page dated only in its text; page without any date ------------------------------


def test_text_date_only_page() -> None:
    info = read_page(fixture("text-date-only.html"), WP_URL)
    assert info.title == "Drone Footage: Tank Crushes Dismounted Infantry in Syria"
    assert (info.published, info.published_from) == (datetime.date(2017, 6, 20), "text")
    assert info.media == media(("https://www.youtube.com/watch?v=TaNkDrOnE17", "embed", "iframe"))


def test_text_date_only_page_without_its_byline_has_no_date() -> None:
    html = without(fixture("text-date-only.html"), r"first published on June 20, 2017 by")
    info = read_page(html, UNDATED_URL)  # its dated URL would date it
    assert (info.published, info.published_from) == (None, None)


def test_no_date_page() -> None:
    info = read_page(fixture("no-date.html"), NO_DATE_URL)
    assert info.title == "Islamic State Fighters Flee Gun-Battle, Leave Wounded Behind"
    assert (info.published, info.published_from) == (None, None)
    assert info.media == media(
        ("https://combatclips.example/media/uploads/is-fighters-flee-gopro.mp4", "video", "video")
    )


# --- ClaimReview shapes and bad JSON-LD --------------------------------------------------------

REVIEW_A = {
    "@context": "https://schema.org",
    "@type": ["ClaimReview", "Review"],
    "claimReviewed": "Video shows a strike on Aleppo this week",
    "reviewRating": {"@type": "Rating", "ratingValue": 1},
    "author": [{"@type": "Organization", "name": "Fatabyyano"}],
    "datePublished": "2024-12-05",
    "url": "/en/fc/1",
    "itemReviewed": {
        "@type": "Claim",
        "datePublished": "2024-12-04",
        "appearance": [
            {"@type": "CreativeWork", "url": "https://t.me/s/warnews/77", "datePublished": "x"},
            "https://x.com/someone/status/1",
        ],
    },
}
REVIEW_B = {
    "@type": "ClaimReview",
    "claimReviewed": "Photo shows fighters in Homs",
    "reviewRating": {"ratingValue": "False", "alternateName": "False"},
    "author": "AFP Fact Check",
    "url": "https://factcheck.example/en/fc/2",
    "itemReviewed": {"@type": "CreativeWork", "url": "https://www.facebook.com/post/9"},
}
BAD_BLOCKS = [
    '<script type="application/ld+json">{"@type": "ClaimReview", "claimReviewed": </script>',
    '<script type="application/ld+json">"just a string"</script>',
    '<script type="application/ld+json">42</script>',
    '<script type="application/ld+json">{"@graph": "not a list"}</script>',
    jsonld(
        {
            "@type": "ClaimReview",
            "claimReviewed": 5,
            "reviewRating": "Misleading",
            "author": "Misbar",
            "itemReviewed": "a claim, as a string",
            "datePublished": {"oops": True},
            "url": ["not a url", 3],
        }
    ),
    jsonld({"@type": "NewsArticle", "datePublished": ["2020-01-01"], "image": {"url": 7}}),
    '<script type="application/ld+json">[' + "[" * 100_000 + "]" * 100_000 + "]</script>",
]


def test_several_reviews_and_bad_json_ld_blocks() -> None:
    head = "".join(BAD_BLOCKS[:4]) + jsonld([REVIEW_A, REVIEW_B]) + "".join(BAD_BLOCKS[4:])
    info = page("<article><h1>Two claims</h1></article>", head, url="https://fc.example/en/a")
    assert info.title == "Two claims"
    assert info.published == datetime.date(2020, 1, 1)
    first, second, third = info.reviews
    assert first.claim == "Video shows a strike on Aleppo this week"
    assert first.rating == "1"
    assert first.author == "Fatabyyano"
    assert first.review_url == "https://fc.example/en/fc/1"
    assert first.review_date == datetime.date(2024, 12, 5)
    assert first.appearance_url == "https://t.me/s/warnews/77"
    assert first.appearance_date == datetime.date(2024, 12, 4)
    assert (second.claim, second.rating, second.author) == (
        "Photo shows fighters in Homs",
        "False",
        "AFP Fact Check",
    )
    assert second.appearance_url == "https://www.facebook.com/post/9"
    assert second.appearance_date is None
    # The badly typed block still gives what it can, and never raises.
    assert (third.claim, third.rating, third.author) == ("5", "Misleading", "Misbar")
    assert third.review_url == "https://fc.example/en/a"
    assert (third.appearance_url, third.review_date) == (None, None)


def test_claimreview_nested_in_an_article_and_in_http_microdata() -> None:
    nested = {"@type": "Article", "headline": "H", "review": dict(REVIEW_B, url=None)}
    body = (
        '<div itemscope itemtype="http://schema.org/ClaimReview">'
        '<span itemprop="claimReviewed">Tank video is from Gaza</span>'
        '<div itemprop="reviewRating" itemscope itemtype="http://schema.org/Rating">'
        '<meta itemprop="ratingValue" content="3"></div></div>'
    )
    info = page(body, jsonld(nested), url="https://fc.example/p")
    assert [(r.claim, r.rating, r.review_url) for r in info.reviews] == [
        ("Photo shows fighters in Homs", "False", "https://fc.example/p"),
        ("Tank video is from Gaza", "3", "https://fc.example/p"),
    ]


def test_claimreview_in_a_related_list_is_not_this_page_s() -> None:
    body = (
        '<article><p>Story</p></article><aside class="related-factchecks">'
        '<div itemscope itemtype="https://schema.org/ClaimReview">'
        '<span itemprop="claimReviewed">Another claim</span></div></aside>'
    )
    assert page(body).reviews == ()


# --- media rules -------------------------------------------------------------------------------


YT = "https://www.youtube.com/watch?v=IsIsGaza15x"
POST = "https://x.com/SyriaWatch/status/186470112"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("https://www.youtube.com/embed/IsIsGaza15x?start=3", YT),
        ("https://www.youtube-nocookie.com/embed/IsIsGaza15x", YT),
        ("https://youtu.be/IsIsGaza15x?t=10", YT),
        ("https://m.youtube.com/watch?v=IsIsGaza15x&feature=share", YT),
        ("https://www.youtube.com/shorts/IsIsGaza15x", YT),
        ("https://twitter.com/SyriaWatch/status/186470112?ref_src=twsrc", POST),
        ("https://mobile.x.com/SyriaWatch/status/186470112/video/1", POST),
        (
            "https://platform.twitter.com/embed/Tweet.html?id=186470112",
            "https://x.com/i/status/186470112",
        ),
        ("https://t.me/warmonitor/88123", "https://t.me/warmonitor/88123"),
        ("https://t.me/s/warmonitor/88123?embed=1", "https://t.me/warmonitor/88123"),
        ("https://www.youtube.com/@SomeChannel", None),
        ("https://www.youtube.com/watch?v=short", None),
        ("https://twitter.com/intent/tweet?url=x", None),
        ("https://x.com/SyriaWatch", None),
        ("https://t.me/share/url?url=https%3A%2F%2Fx", None),
        ("https://t.me/warmonitor", None),
        ("https://www.google.com/maps/embed?pb=1", None),
    ],
)
def test_embed_urls(link: str, expected: str | None) -> None:
    found = embed_url(link)
    assert (found[0] if found else None) == expected


def test_embeds_in_the_article_are_found_once_per_post() -> None:
    body = """<article>
      <blockquote class="twitter-tweet"><a href="https://twitter.com/u/status/42">Dec 5</a>
      </blockquote>
      <iframe src="https://platform.twitter.com/embed/Tweet.html?id=42"></iframe>
      <iframe data-src="https://www.youtube.com/embed/IsIsGaza15x"></iframe>
      <a href="https://youtu.be/IsIsGaza15x">the same video</a>
      <iframe src="https://googleads.g.doubleclick.net/pagead/ads?x=1"></iframe>
      <a href="https://t.me/share/url?url=x">share</a>
      <amp-youtube data-videoid="AmPyOuTuBe1"></amp-youtube>
    </article>
    <iframe src="https://www.youtube.com/embed/OuTsIdEaRt1"></iframe>
    <div class="comments"><a href="https://youtu.be/CoMmEnTeD01">mine</a></div>"""
    assert page(body).media == media(
        ("https://x.com/u/status/42", "embed", "link"),
        ("https://www.youtube.com/watch?v=IsIsGaza15x", "embed", "iframe"),
        ("https://www.youtube.com/watch?v=AmPyOuTuBe1", "embed", "iframe"),
        ("https://www.youtube.com/watch?v=OuTsIdEaRt1", "embed", "iframe"),
    )


def test_images_lazy_loading_sizes_and_junk() -> None:
    body = """<div class="entry-content">
      <img src="data:image/gif;base64,R0lGOD" data-src="/up/lazy.jpg" width="800" height="450">
      <img src="/up/small.jpg"
           srcset="/up/s-480.jpg 480w, /up/s-1600.jpg 1600w, /up/s-800.jpg 800w">
      <img src="data:image/png;base64,iVBOR" alt="inline">
      <img src="/up/thumb.jpg" width="80" height="80">
      <img src="/up/wide.jpg" width="100%">
      <img src="/theme/arrow.svg">
      <img src="/up/author.jpg" class="avatar">
      <a class="site-logo" href="/"><img src="/up/brand.png"></a>
      <img src="https://www.facebook.com/tr?id=1&ev=PageView">
      <img src="/up/lazy.jpg">
    </div>
    <img src="/up/outside-the-article.jpg">"""
    info = page(body, '<base href="https://cdn.news.example/">')
    assert info.media == media(
        ("https://cdn.news.example/up/lazy.jpg", "photo", "img"),
        ("https://cdn.news.example/up/s-1600.jpg", "photo", "img"),
        ("https://cdn.news.example/up/wide.jpg", "photo", "img"),
    )


def test_page_without_article_markup_takes_body_images() -> None:
    body = '<div class="header"><p>Site</p></div><div><img src="/img/frame.jpg"></div>'
    info = page(body, url="https://news.example/a/1")
    assert info.media == media(("https://news.example/img/frame.jpg", "photo", "img"))


def test_og_video_player_and_json_ld_video() -> None:
    head = (
        '<meta property="og:video" content="https://www.youtube.com/embed/IsIsGaza15x">'
        '<meta property="og:video:type" content="text/html">'
        '<meta property="og:image" content="https://news.example/logo-default.png">'
        + jsonld(
            {
                "@type": "VideoObject",
                "contentUrl": "https://cdn.news.example/clip.m3u8",
                "embedUrl": "https://player.news.example/embed/77",
                "thumbnailUrl": "https://cdn.news.example/clip.jpg",
            }
        )
        + jsonld({"@type": "Organization", "logo": "https://news.example/org.png"})
    )
    assert page("<p>x</p>", head).media == media(
        ("https://www.youtube.com/watch?v=IsIsGaza15x", "embed", "og:video"),
        ("https://cdn.news.example/clip.m3u8", "video", "json-ld"),
        ("https://player.news.example/embed/77", "embed", "json-ld"),
    )


# --- title, language ---------------------------------------------------------------------------


RETREAT = "Assad forces retreat from Aleppo"
SITE_NAME = '<meta property="og:site_name" content="Al Example">'


@pytest.mark.parametrize(
    ("head", "url", "expected"),
    [
        (
            "<title>Old Footage – Combat Clips Daily</title>",
            "https://combatclips.example/",
            "Old Footage",
        ),
        (
            "<title>Old Footage Circulated | Some Site</title>",
            "https://a.example/",
            "Old Footage Circulated",
        ),
        (f"<title>Syria - {RETREAT}</title>", "https://a.example/", f"Syria - {RETREAT}"),
        (f"<title>Breaking | {RETREAT}</title>", "https://a.example/", f"Breaking | {RETREAT}"),
        (f"{SITE_NAME}<title>Headline - Al Example</title>", "https://a.example/", "Headline"),
        ("<title>Headline :: misbar.example</title>", "https://www.misbar.example/x", "Headline"),
        ("<title>   </title>", "https://a.example/", None),
    ],
)
def test_title_site_suffix(head: str, url: str, expected: str | None) -> None:
    assert page("<p>x</p>", head, url).title == expected


ARABIC_WORDS = "تداول مستخدمون مقطع فيديو قديم "


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<html lang="en-GB"><body><p>x</p></body></html>', "en"),
        ('<html><head><meta property="og:locale" content="ar_AR"></head></html>', "ar"),
        (jsonld({"@type": "Article", "inLanguage": "fr-FR"}), "fr"),
        (f"<html><body><p>{ARABIC_WORDS * 3}</p></body></html>", "ar"),
        (f'<html lang="en-US"><body><p>{ARABIC_WORDS * 20}</p></body></html>', "ar"),
        ("<html><body><p>Plain English text.</p></body></html>", None),
    ],
)
def test_language(html: str, expected: str | None) -> None:
    assert read_page(html, "https://news.example/a").language == expected


# --- encodings and hostile input ---------------------------------------------------------------


def test_declared_legacy_encoding_is_honoured() -> None:
    html = '<html><head><meta charset="windows-1256"><title>مسبار</title></head></html>'
    assert read_page(html.encode("cp1256"), "https://x.example/").title == "مسبار"
    latin = "<html><body><article><h1>Café in Raqqa</h1></article></body></html>"
    assert read_page(latin.encode("cp1252"), "https://x.example/").title == "Café in Raqqa"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        ("   \n ", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "PNG image"),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(200), "MP4"),
        (b"\x1f\x8b\x08\x00" + bytes(100), "gzip"),
        (random.Random(7).randbytes(100_000), "binary"),
        ('{"data": {"children": []}}', "JSON"),
        ('<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>', "feed"),
    ],
)
def test_not_html_is_refused_with_a_reason(data: bytes | str, reason: str) -> None:
    started = time.monotonic()
    with pytest.raises(PageError, match=reason):
        read_page(data, "https://x.example/")
    assert time.monotonic() - started < FAST


@pytest.mark.parametrize(
    "html",
    [
        "just some text, no tags",
        "<!-- only a comment -->",
        "<html><head><title></title></head></html>",
        '<?xml version="1.0" encoding="utf-8"?><html><body><p>x</p></body></html>',
        "<div>" * 100_000 + "<article><h1>Deep</h1></article>",
        "<b><i>" * 50_000 + "text",
        '<div itemscope itemtype="https://schema.org/ClaimReview">' * 300,
        "<html><head>" + BAD_BLOCKS[-1] + "</head></html>",
        "<p>" + "\ud800 lone surrogate &#0; &#xD800; &bogus; <a href='http://[::1'>x</a>",
    ],
)
def test_hostile_markup_does_not_crash(html: str) -> None:
    started = time.monotonic()
    info = read_page(html, "https://x.example/")
    assert isinstance(info, PageInfo)
    assert time.monotonic() - started < FAST


def test_five_megabyte_page_is_read_in_bounded_time() -> None:
    html = fixture("text-date-only.html")
    comment = (
        '<li class="comment"><div class="comment-meta"><time datetime="2019-02-02">Feb 2, 2019'
        '</time></div><p>Published on 1 February 2019. <img src="https://i.example/c.jpg"></p></li>'
    )
    padding = comment * (5 * 1024 * 1024 // len(comment))
    html = html.replace('<ol class="commentlist">', '<ol class="commentlist">' + padding)
    assert len(html) > 5_000_000
    started = time.monotonic()
    info = read_page(html.encode("utf-8"), WP_URL)
    assert time.monotonic() - started < FAST
    assert (info.published, info.published_from) == (datetime.date(2017, 6, 20), "text")
    assert len(info.media) == 1
