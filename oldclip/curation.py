"""Curating the library: adding clips, putting files on the benign list, removing clips.

Plain functions over the database and the process's ``IndexSet``: each change goes into
storage first (moving the library's version), then the indexes catch up with it at once
(``IndexSet.catch_up``), so the next check here sees it without waiting for a refresh.  Other
processes see it through the change log (``oldclip.replica``).  ``Library`` calls these with
the fingerprint already computed: fingerprinting is the library's job, not curation's.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import storage

if TYPE_CHECKING:
    from fingerprint.types import Fingerprint
    from storage.engine import Database

    from .indexset import IndexSet


def add_clip(
    db: Database,
    indexes: IndexSet,
    media_dir: Path,
    path: str | Path,
    fp: Fingerprint,
    **provenance,
) -> tuple[int, bool]:
    """Record a file (fingerprint ``fp``) as a clip: (clip id, created?).

    One transaction: a clip refused for its provenance (a bad date, no title) must not leave
    its media behind, or later checks would report a match with no clip to show.
    """
    with db.atomic():
        media_id, _ = storage.add_media(db, fp)
        result = storage.add_clip(db, media_id, **provenance)
    # Indexed now, even a file someone asked about and stored unindexed (or, benign, its
    # frames ignored): the new clip moved the library's version.
    indexes.catch_up(db, {media_id: fp})
    keep_copy(db, media_dir, media_id, Path(path), fp.sha256)
    return result


def add_benign(
    db: Database,
    indexes: IndexSet,
    media_dir: Path,
    path: Path,
    fp: Fingerprint,
    title: str | None = None,
    note: str | None = None,
    added_by: str | None = None,
) -> tuple[int, bool]:
    """Put a file on the benign list: (clip id, whether a new clip was made).

    A file that already is a clip has that clip marked benign, and nothing else about it
    changes.  Otherwise it becomes a benign clip titled ``title`` (the file name by default)
    with ``note`` as its description.
    """
    media = storage.media_by_sha256(db, fp.sha256)
    clip = storage.clip_for_media(db, media.id) if media is not None else None
    if clip is not None:
        set_benign(db, indexes, clip.id)
        return clip.id, False
    today = datetime.now(UTC).date().isoformat()
    return add_clip(
        db,
        indexes,
        media_dir,
        path,
        fp,
        title=title or path.name,
        first_seen=today,
        source=f"benign list: {path.name}",
        description=note,
        added_by=added_by,
        benign=True,
    )


def set_benign(db: Database, indexes: IndexSet, clip_id: int, benign: bool = True) -> bool:
    """Mark a clip benign (or not any more); False if there is no such clip."""
    if not storage.set_benign(db, clip_id, benign):
        return False
    indexes.catch_up(db)
    return True


def remove_clip(db: Database, indexes: IndexSet, clip_id: int) -> bool:
    """Remove a clip; False if there is no such clip."""
    if not storage.remove_clip(db, clip_id):
        return False
    indexes.catch_up(db)  # its media stop matching, unless the watchers sighted them
    return True


def keep_copy(db: Database, media_dir: Path, media_id: int, path: Path, sha256: str) -> None:
    """Archive a copy of a library file, so evidence pictures can be drawn from it later."""
    media = storage.get_media(db, media_id)
    if media is None or (media.path and Path(media.path).is_file()):
        return
    target = media_dir / "library" / f"{sha256}{path.suffix.lower()}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    storage.set_media_path(db, media_id, str(target))
