"""The library service keeps the search index to what a match can point at."""

from __future__ import annotations

from pathlib import Path

from media import DOORKNOB, shared_fingerprint

import storage
from oldclip.config import load_config
from oldclip.library import Library
from oldclip.run import LibraryChecker
from oldclip.workers import media_workers


def test_a_file_someone_asked_about_is_searchable_only_once_sighted(tmp_path: Path) -> None:
    config = load_config(None, tmp_path / "library.db")
    fp = shared_fingerprint(DOORKNOB)
    library = Library.open(config)
    media_id = library.add_fingerprint(fp, index=False)  # kept to tell the asker later
    assert media_id not in library.index and library.match(fp) == []
    library.close()

    library = Library.open(config)  # a restart does not index it either
    assert media_id not in library.index
    storage.add_sighting(
        library.db,
        media_id,
        url="https://t.me/c/1",
        source="telegram",
        seen_at="2024-05-01T12:00:00+00:00",
        post_url="https://t.me/c/1",
    )
    library.index_media(media_id)
    assert media_id in library.index
    (found,) = library.match(fp)
    assert found.match.media_id == media_id and found.sightings[0].post_url == "https://t.me/c/1"
    library.close()

    library = Library.open(config)  # once sighted, it is indexed at start-up
    assert media_id in library.index
    library.close()


async def test_sending_a_file_the_watchers_sighted_says_where_it_was_first_seen(
    tmp_path: Path,
) -> None:
    config = load_config(None, tmp_path / "library.db")
    library = Library.open(config)
    media_id = library.add_fingerprint(shared_fingerprint(DOORKNOB))
    storage.add_sighting(
        library.db,
        media_id,
        url="https://t.me/c/7",
        source="telegram",
        seen_at="2023-01-02T03:04:05+00:00",
        post_url="https://t.me/c/7",
    )
    async with media_workers(library.config) as workers:
        outcome = await LibraryChecker(library, workers).check(DOORKNOB, keep=True)
    (finding,) = outcome.findings  # the very same file: its earlier sighting, not dropped
    assert finding.media_id == media_id and finding.source == "https://t.me/c/7"
    assert finding.clip_id is None and finding.first_seen.startswith("2023-01-02")
    library.close()
