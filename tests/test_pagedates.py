"""First publication dates of pages in the shapes real sites send them.

Each page below reproduces a fault seen on saved real pages: site wrappers that looked like
noise (Blogger's widget, ASP.NET's page-wide form), structured dates the reader missed, wrong
choices between candidates, and dates written in other languages and formats.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from watchers.pages import read_page
from watchers.textdates import date_in_text

PAGES = Path(__file__).resolve().parent / "pages"
D = datetime.date


def page(body: str, head: str = "", url: str = "https://news.example/2019/05/story") -> object:
    html = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Story</title>"
        "<script async src='https://www.googletagmanager.com/gtag/js?id=G-XXXX'></script>"
        f"{head}</head><body>{body}"
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
        "</script></body></html>"
    )
    return read_page(html, url)


def test_blogger_post_inside_the_blog_widget_is_dated_by_its_hatom_timestamp():
    info = read_page(
        (PAGES / "blogger-widget-blog.html").read_bytes(),
        "http://frontnotes.blogspot.com/2011/03/convoy-on-road.html",
    )
    assert info.published == D(2011, 3, 30)  # not the comment of April 2, 2011
    assert [m.url for m in info.media if m.found_in == "img"] == [
        "https://blogger.googleusercontent.com/img/b/R29vZ2xl/w640-h360/convoy.jpg"
    ]


def test_aspnet_page_wrapped_in_one_form_keeps_its_byline():
    info = read_page(
        (PAGES / "aspnet-form.html").read_bytes(),
        "https://nachrichten.example/artikel.aspx?id=4711",
    )
    assert info.published == D(2017, 1, 12)
    assert info.published_from == "text"


def test_itemprop_date_published_in_the_article_footer():
    body = (
        "<article class='post'><h1>Convoy</h1><div class='entry-content'><p>A long story "
        "about a convoy seen on the coast road by several readers.</p></div>"
        "<footer class='entry-footer'><meta itemprop='datePublished' content='2018-04-09'>"
        "<meta itemprop='dateModified' content='2023-01-01'>"
        "<span class='cat-links'>News</span></footer></article>"
        "<aside class='widget'><h2>Archives</h2><a href='/2023/01/'>January 2023</a></aside>"
    )
    info = page(body)
    assert (info.published, info.published_from) == (D(2018, 4, 9), "meta")


def test_wordpress_entry_date_updated_is_the_published_time():
    body = (
        "<article id='post-4711' class='post-4711 post type-post status-publish'>"
        "<header class='entry-header'><h1 class='entry-title'>Convoy</h1>"
        "<div class='entry-meta'><span class='posted-on'><a href='/2016/08/06/convoy/' "
        "rel='bookmark'><time class='entry-date updated' datetime='2016-08-06T09:12:44+00:00'>"
        "6. August 2016</time></a></span></div></header>"
        "<div class='entry-content'><p>Story text.</p></div></article>"
    )
    info = page(body)
    assert (info.published, info.published_from) == (D(2016, 8, 6), "time")


def test_json_ld_block_with_a_stray_brace_is_still_read():
    head = (
        '<script type="application/ld+json">{"@context":"https://schema.org",'
        '"@type":"NewsArticle","headline":"Convoy","datePublished":"2015-03-02T08:00:00+01:00",'
        '"dateModified":"2021-06-01T10:00:00+01:00"}}</script>'
    )
    info = page("<article><h1>Convoy</h1><p>Story.</p></article>", head)
    assert (info.published, info.published_from) == (D(2015, 3, 2), "json-ld")


def test_byline_and_meta_agreeing_beat_a_lone_json_ld_migration_date():
    head = (
        '<meta property="article:published_time" content="2016-11-14T07:30:00+00:00">'
        '<script type="application/ld+json">{"@context":"https://schema.org","@type":'
        '"NewsArticle","headline":"Convoy","datePublished":"2020-02-03T00:00:00Z"}</script>'
    )
    body = (
        "<article><h1>Convoy</h1><p class='byline'>By Ana Ruiz | November 14, 2016</p>"
        "<p>Story.</p></article>"
    )
    info = page(body, head)
    assert info.published == D(2016, 11, 14)


def test_article_date_beats_the_claim_review_s_own_date():
    head = (
        '<script type="application/ld+json">[{"@context":"https://schema.org","@type":'
        '"NewsArticle","headline":"Old video","datePublished":"2024-12-06T10:00:00+03:00"},'
        '{"@context":"https://schema.org","@type":"ClaimReview","datePublished":"2024-12-09",'
        '"url":"aosfatos.org/noticias/video-antigo/","claimReviewed":"Video shows a strike today",'
        '"reviewRating":{"@type":"Rating","alternateName":"False"},'
        '"itemReviewed":{"@type":"Claim","datePublished":"2024-12-05"}}]</script>'
    )
    info = page("<article><h1>Old video</h1><p>Check.</p></article>", head)
    assert info.published == D(2024, 12, 6)
    (review,) = info.reviews
    assert review.review_url == "https://aosfatos.org/noticias/video-antigo/"
    from watchers.provenance import from_page

    prov = from_page(info)
    assert prov.source_date == "2024-12-06"
    assert prov.date_from == "json-ld"


def test_embedded_post_s_date_and_the_site_header_s_today_are_not_the_byline():
    today = datetime.date.today().strftime("%A, %B %-d, %Y")
    body = (
        f"<div class='top-bar'><span class='today-date'>{today}</span></div>"
        "<div class='story'><h1>Convoy</h1>"
        "<blockquote class='facebook-post'><p>Convoy near the port</p>"
        "<p>Posted by Frontline Watch on Sunday, February 6, 2022</p></blockquote>"
        "<p>Readers shared the video widely this week.</p></div>"
    )
    info = page(body)
    assert (info.published, info.published_from) == (None, None)


def test_visible_time_text_beats_a_differing_datetime_attribute():
    body = (
        "<article><h1>Convoy</h1><div class='meta'><time datetime='2019-05-02T01:30:00Z' "
        "class='published'>1 May 2019</time></div><p>Story.</p></article>"
    )
    assert page(body).published == D(2019, 5, 1)


def test_utc_timestamp_near_midnight_gives_way_to_the_local_byline_day():
    head = '<meta property="article:published_time" content="2017-06-20T23:40:00Z">'
    body = "<article><h1>Convoy</h1><p class='byline'>21 June 2017</p><p>Story.</p></article>"
    assert page(body, head).published == D(2017, 6, 21)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Veröffentlicht am 6. August 2009", D(2009, 8, 6)),
        ("Publicado el 6 de agosto de 2009", D(2009, 8, 6)),
        ("Gepubliceerd op 14 maart 2016", D(2016, 3, 14)),
        ("Diterbitkan 17 Agustus 2018", D(2018, 8, 17)),
        ("Veröffentlicht: 12.01.17", D(2017, 1, 12)),
        ("Publié le 3 février 2015", D(2015, 2, 3)),
    ],
)
def test_bylines_in_other_languages_and_formats(line, expected):
    assert date_in_text(f"Convoy on the coast road\n{line}\nA reader sent us a video.") == expected


def test_weak_date_is_marked_for_confirmation():
    info = read_page((PAGES / "aspnet-form.html").read_bytes(), "https://nachrichten.example/a")
    from watchers.provenance import from_page

    assert from_page(info).date_from == "text"


def test_sidebar_teasers_of_other_stories_are_not_the_article_s_media():
    info = read_page(
        (PAGES / "sidebar-teasers.html").read_bytes(),
        "https://diario.example/2019/05/14/incendio-deposito.html",
    )
    assert info.published == D(2019, 5, 14)
    # the 2019 article's own photo only: the 16 "most read" thumbnails are 2023 stories
    assert [m.url for m in info.media] == [
        "https://cdn.diario.example/2019/05/deposito-incendio-1200x675.jpg"
    ]


def test_byline_under_the_headline_below_long_menus_and_archive_lists():
    menu = "".join(f"<li><a href='/m{i}.html'>Menüpunkt {i}</a></li>" for i in range(12))
    archive = "".join(
        f"<li><a href='archiv.html?month=2018{m:02d}'>Monat {m} 2018</a></li>" for m in range(1, 13)
    )
    body = (
        f"<div id='header'><div class='inside'><ul class='level_1'>{menu}</ul></div></div>"
        f"<div id='left'><div class='mod_newsmenu block'><ul>{archive}</ul></div></div>"
        "<div id='main'><div class='mod_newsreader block'><div class='layout_full block'>"
        "<h1>Warm war es, schön war es</h1><p class='info'>10.06.2018 22:00</p>"
        "<div class='ce_text'><p>Heute Nachmittag haben wir am Umzug teilgenommen.</p></div>"
        "</div></div></div>"
    )
    info = page(body, url="https://verein.example/news/items/warm-war-es.html")
    assert (info.published, info.published_from) == (D(2018, 6, 10), "text")


def test_byline_in_a_theme_s_nav_meta_box_is_read():
    body = (
        "<div id='content'><h2 class='posttitle'>Convoy on the coast road</h2>"
        "<div class='nav meta'>Posted by admin on March 3, 2015 in News</div>"
        "<div class='postentry'><p>A reader sent us this video.</p></div></div>"
    )
    assert page(body, url="https://blog.example/convoy").published == D(2015, 3, 3)


def test_date_in_the_article_s_own_definition_list_aside():
    """A MODX blog: the date is a <dt>Datum</dt><dd>…</dd> pair in an <aside> inside the
    <article> (its metadata box), not in a byline line; sidebars outside keep their dates out."""
    body = (
        "<header><h1><img src='/logo.png' alt='Ebene 11'></h1><nav class='mainnavi'><ul>"
        "<li><a href='/'>Home</a></li><li class='active'><a href='blog/'>Blog</a></li></ul>"
        "</nav></header>"
        "<article id='content'><header><h2>Dateien mit Migrationshintergrund <span>Ein "
        "Ablaufplan für fremde dwg-Dateien</span></h2><p>Wenn man nicht alles selber zeichnet, "
        "besteht immer die Gefahr, die eigenen Planungsdateien unnötig aufzublähen.</p></header>"
        "<aside class='blogData'><dl><dt>Datum</dt><dd>12.01.2017</dd><dt>Kategorie</dt>"
        "<dd><a href='autocad/'>AutoCAD</a></dd></dl></aside>"
        "<h3>Ziel</h3><p>Grundsätzlich sollten die eigenen Dateien sauber getrennt von fremden "
        "Inhalten gehalten werden.</p>"
        "<section class='comments'><h2>Kommentare (0)</h2></section></article>"
        "<aside class='blogNavi'><div class='latestComments'><h3>Neue Kommentare</h3><ul>"
        "<li><h4><a href='slider'>Slider</a> <span class='commentDate'>vor 2 Monaten</span>"
        "</h4></li></ul></div><dl><dt>Datum</dt><dd>03.03.2019</dd></dl></aside>"
    )
    info = page(body, url="https://ebene11.example/die-arbeit-mit-fremden-dwg-dateien")
    assert info.published == D(2017, 1, 12)
    assert info.published_from == "text"


def test_von_name_am_byline_under_the_article_body():
    """Movable Type puts "Von <author> am <date>, <time> | <n> Meinungen | <category>" in the
    entry's footer, after the story: a byline, though far from the top of the page."""
    story = " ".join(["Was früher schnelle Autos waren, sind heute sparsame Modelle."] * 8)
    body = (
        "<div id='container'><div id='header'><a href='/'><img src='/k.gif' alt='Klima'></a>"
        "</div><div id='menu'><ul>"
        + "".join(f"<li><a href='/{i}'>Rubrik {i}</a></li>" for i in range(9))
        + "</ul></div><div id='content'><div id='alpha'>"
        "<p class='content-nav'><a href='/prev'>« Energie sparen</a> | <a href='/'>Startseite"
        "</a></p><div class='entry-asset asset'><div class='asset-header'><h1 class='asset-name'>"
        "Elektromobilität, der neue Trend</h1></div><div class='asset-content'>"
        f"<div class='asset-body'><p>{story}</p></div><div class='asset-more'><p>{story}</p>"
        "</div></div><div class='asset-footer'><div class='asset-meta'>Von Christian am "
        "03.05.2013, 11:51 | 0 Meinungen |  <a href='/energie-sparen/'>Energie sparen</a>"
        "</div></div></div></div></div></div>"
    )
    info = page(body, url="http://www.klima.example/klimaschutz/elektromobilitat/")
    assert info.published == D(2013, 5, 3)


@pytest.mark.parametrize(
    "line",
    [
        "By the time the convoy arrived on 3 March 2016, the town had fallen.",
        "Von Montag an wurde am 3. März 2016 in der Stadt gekämpft, sagte er.",
    ],
)
def test_a_story_sentence_starting_like_a_byline_is_not_one(line):
    filler = "\n".join(f"Paragraph {i} of a long story about the fighting." for i in range(15))
    assert date_in_text(f"Headline\n{filler}\n{line}\n{filler}") is None
