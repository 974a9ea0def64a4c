"""What a news or fact-check page tells the library about the footage it shows.

A page that published footage dates it; a fact-check that debunked its reuse carries the
claim, the verdict and the link to send people to.  from_page() turns a read page into a
``Provenance``, so `oldclip import-page` and the `factcheck` watcher record pages the same
way.  Pure: no network, no database.
"""

from __future__ import annotations

from datetime import date

from watchers.pages import PageInfo
from watchers.post import Provenance

__all__ = ["NoDateError", "Provenance", "from_page"]


class NoDateError(ValueError):
    """The page gives no date for its footage, and the library needs one for every clip."""


def from_page(
    page: PageInfo, *, fallback_date: date | None = None, fallback_from: str = "given"
) -> Provenance:
    """The provenance a page gives its media.

    A page with a ClaimReview is a fact-check: its footage gets the claim, the verdict and the
    fact-check link, and is dated by the article's own publication date (else the review's
    date; the footage existed by then) or by the first appearance it names, whichever is
    earlier.  Any other page is a publication dated by its
    own publication date.  ``fallback_date`` (a feed entry's date, or one a person typed)
    stands in when the page has none; without either, NoDateError says what to do.
    """
    review = next(iter(page.reviews), None)
    # The article's own publication date first: a ClaimReview's datePublished is often the
    # day the review markup was (re)generated, days or years after the fact-check appeared.
    when, date_from = page.published, page.published_from
    if when is None and review is not None and review.review_date is not None:
        when, date_from = review.review_date, "claimreview"
    if when is None and fallback_date is not None:
        when, date_from = fallback_date, fallback_from
    title = page.title or (review.claim if review else None) or page.url
    if review is None:
        if when is None:
            raise NoDateError(
                f"no publication date found on {page.url} (no JSON-LD datePublished, "
                "article:published_time, <time> or dated byline); give the date the footage "
                "was first published with --first-seen YYYY-MM-DD"
            )
        return Provenance(
            title=title,
            source=page.url,
            source_date=when.isoformat(),
            description=page.description,
            language=page.language,
            date_from=date_from,
        )
    appearances: tuple[tuple[str, str], ...] = ()
    if review.appearance_url and review.appearance_date:
        appearances = ((review.appearance_url, review.appearance_date.isoformat()),)
    if when is None:
        if not appearances:
            raise NoDateError(
                f"the fact-check at {page.url} has no date and names no dated appearance of "
                "the footage; give the earliest date it is known from with --first-seen "
                "YYYY-MM-DD"
            )
        when, date_from = date.fromisoformat(appearances[0][1]), "claimreview"
    return Provenance(
        title=title,
        source=review.review_url or page.url,
        source_date=when.isoformat(),
        source_kind="factcheck",
        description=page.description,
        language=page.language,
        claim=review.claim,
        rating=review.rating,
        verdict_url=review.review_url or page.url,
        appearances=appearances,
        date_from=date_from,
    )
