"""Speed and memory of hash bundles: export a big library, import it, import it again.

    python bench/bundle.py [--clips 100000] [--gzip] [--workdir bench/out/bundle]

1. Builds library A with N clips through storage.add_media/add_clip.  Fingerprint sizes are
   real: each clip copies the frame count, times and variants of one of the shared videos
   (``../shared/media/videos``, fingerprinted once), with random hash bits and sha256, so
   nothing deduplicates or compresses better than real hashes would.  Titles, sources (one to
   three, some fact-checks with a claim and rating), dates, tags and languages look real.
2. Exports A to a bundle (``.jsonl``, or ``.jsonl.gz`` with --gzip).
3. Imports the bundle into an empty library B (target: under a minute for 100,000 clips on a
   2-core machine), then imports it again (must change nothing).

Each of steps 2-3 runs in a fresh process, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import pickle
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import storage  # noqa: E402
from fingerprint import INDEXED_VARIANTS, fingerprint_file  # noqa: E402
from fingerprint.types import Fingerprint  # noqa: E402
from storage.bundle.export import export_bundle  # noqa: E402
from storage.bundle.importer import import_bundle  # noqa: E402

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
OUT = Path(__file__).resolve().parent / "out" / "bundle"

EVENTS = [
    "Airstrike on a market",
    "Convoy ambushed on the road",
    "Drone footage of shelling",
    "Missile launch at night",
    "Tank column crossing a bridge",
    "Explosion at a fuel depot",
    "Helicopter shot down",
    "Crowd fleeing gunfire",
    "Artillery barrage on a village",
    "Burning apartment block",
    "Checkpoint under fire",
    "Refugees crossing the border",
]
PLACES = [
    "Idlib", "Aleppo", "Mosul", "Gaza", "Donetsk", "Kharkiv", "Mariupol", "Sanaa", "Tripoli",
    "Raqqa", "Homs", "Khartoum", "Bakhmut", "Deir ez-Zor", "Benghazi", "Kabul",
]  # fmt: skip
OUTLETS = [
    "news.example.com", "archive.example.org", "reporter.example.net", "tv.example.com",
    "liveleak.example", "youtube.example/watch", "telegram.example/s/frontline",
]  # fmt: skip
FACTCHECKERS = ["factcheck.example.org", "verify.example.com", "misbar.example"]
RATINGS = ["False", "Misleading", "Missing context", "Altered"]
TAGS = ["syria", "iraq", "ukraine", "gaza", "yemen", "libya", "drone", "night", "strike", "tank"]
LANGUAGES = ["ar", "en", "uk", "ru", "fr", None]


def real_fingerprints(workdir: Path) -> list[Fingerprint]:
    """The shared videos' fingerprints, computed once and cached in the work folder."""
    cache = workdir / "real-fingerprints.pickle"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    found = [fingerprint_file(p) for p in sorted(VIDEOS.glob("*.mp4"))]
    if not found:
        raise SystemExit(f"no videos in {VIDEOS}")
    cache.write_bytes(pickle.dumps(found))
    return found


def day(rng: np.random.Generator, start: int = 2011, end: int = 2023) -> str:
    return f"{rng.integers(start, end + 1)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"


def build_library(path: Path, clips: int, templates: list[Fingerprint]) -> float:
    """Library A with ``clips`` realistic clips; returns the seconds it took."""
    rng = np.random.default_rng(2026)
    db = storage.open_db(path)
    started = time.perf_counter()
    with db.atomic():
        for n in range(clips):
            t = templates[rng.integers(len(templates))]
            fp = Fingerprint(
                kind=t.kind,
                sha256=hashlib.sha256(rng.bytes(32)).hexdigest(),
                size=int(t.size * rng.uniform(0.5, 2.0)),
                duration=t.duration,
                width=t.width,
                height=t.height,
                hashes=rng.integers(0, 256, size=t.hashes.shape, dtype=np.uint8),
                times=t.times,
                variants=t.variants,
            )
            media_id, _ = storage.add_media(db, fp)
            place = PLACES[rng.integers(len(PLACES))]
            first = day(rng)
            outlet = OUTLETS[rng.integers(len(OUTLETS))]
            slug = f"{place.lower().replace(' ', '-')}-{n}"
            storage.add_clip(
                db,
                media_id,
                title=f"{EVENTS[rng.integers(len(EVENTS))]} in {place}",
                first_seen=first,
                source=f"https://{outlet}/{first[:4]}/{first[5:7]}/{slug}",
                description=f"Filmed in {place} in {first[:4]}" if rng.random() < 0.5 else None,
                language=LANGUAGES[rng.integers(len(LANGUAGES))],
                tags=list(rng.choice(TAGS, size=rng.integers(1, 4), replace=False)),
                added_by="bench",
            )
            for _ in range(rng.integers(0, 3)):
                later = day(rng, int(first[:4]), 2024)
                factcheck = rng.random() < 0.4
                host = FACTCHECKERS[rng.integers(3)] if factcheck else OUTLETS[rng.integers(7)]
                storage.add_clip(
                    db,
                    media_id,
                    title="(merged)",
                    first_seen=max(later, first),
                    source=f"https://{host}/{later[:4]}/{slug}-{rng.integers(10**6)}",
                    claim=f"Shows today's attack on {place}" if factcheck else None,
                    rating=RATINGS[rng.integers(len(RATINGS))] if factcheck else None,
                    source_kind="factcheck" if factcheck else "publication",
                    source_title=f"Old video from {place} resurfaces" if factcheck else None,
                    added_by="bench",
                )
    seconds = time.perf_counter() - started
    db.close()
    return seconds


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _export(db_path: str, bundle: str) -> tuple[float, float, object, int]:
    db = storage.open_db(db_path)
    started, cpu = time.perf_counter(), _cpu()
    report = export_bundle(db, bundle, publisher="Bench Newsroom", contact="bench@example.org")
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    db.close()
    return seconds, cpu, report, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _import(db_path: str, bundle: str) -> tuple[float, float, object, int]:
    db = storage.open_db(db_path)
    started, cpu = time.perf_counter(), _cpu()
    report = import_bundle(db, bundle)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    db.close()
    return seconds, cpu, report, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def in_child(function, *args):
    """Run ``function(*args)`` in a fresh process (its own peak RSS) and return its result."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def same_clips(a: Path, b: Path, samples: int = 200) -> None:
    """Spot-check that B holds A's clips, sources and (matchable) fingerprints."""
    da, db = storage.open_db(a), storage.open_db(b)
    assert storage.count_clips(da) == storage.count_clips(db)
    rng = np.random.default_rng(1)
    ids = rng.choice(storage.count_clips(da), size=min(samples, storage.count_clips(da)))
    for clip_id in sorted({int(i) + 1 for i in ids}):
        ca = storage.get_clip(da, clip_id)
        media = storage.get_media(da, ca.media_id)
        other = storage.media_by_sha256(db, media.sha256)
        cb = storage.clip_for_media(db, other.id)
        assert (ca.title, ca.first_seen, ca.source, ca.tags, ca.claim, ca.rating) == (
            cb.title,
            cb.first_seen,
            cb.source,
            cb.tags,
            cb.claim,
            cb.rating,
        )
        sa = [(s.url, s.first_seen, s.kind) for s in storage.clip_sources(da, ca.id)]
        sb = [(s.url, s.first_seen, s.kind) for s in storage.clip_sources(db, cb.id)]
        assert sorted(sa) == sorted(sb), (sa, sb)
        fa, fb = storage.load_fingerprint(da, ca.media_id), storage.load_fingerprint(db, other.id)
        keep = np.isin(fa.variants, INDEXED_VARIANTS)
        assert np.array_equal(fa.hashes[keep], fb.hashes)
        assert np.array_equal(fa.times[keep], fb.times)
    da.close()
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--gzip", action="store_true", help="write and read a .jsonl.gz bundle")
    parser.add_argument("--workdir", type=Path, default=OUT)
    args = parser.parse_args()

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    templates = real_fingerprints(work)
    kept = [int(np.isin(t.variants, INDEXED_VARIANTS).sum()) for t in templates]
    print(
        f"fingerprint templates: {len(templates)} shared videos, {min(kept)}-{max(kept)} "
        f"stored frames each (mean {np.mean(kept):.0f}; {np.mean([len(t) for t in templates]):.0f}"
        " with the mirrored frames bundles leave out)"
    )
    library_a = work / f"a-{args.clips}.db"
    if not library_a.exists():
        print(f"building library A with {args.clips} clips...", flush=True)
        print(f"  built in {build_library(library_a, args.clips, templates):.1f} s")
    bundle = work / ("library.jsonl.gz" if args.gzip else "library.jsonl")
    library_b = work / "b.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{library_b}{suffix}").unlink(missing_ok=True)

    load = os.getloadavg()[0]
    export_s, export_cpu, exported, export_rss = in_child(_export, str(library_a), str(bundle))
    import_s, import_cpu, first, import_rss = in_child(_import, str(library_b), str(bundle))
    again_s, again_cpu, second, again_rss = in_child(_import, str(library_b), str(bundle))
    assert (first.new, first.merged) == (exported.clips, 0), first
    assert (second.new, second.merged, second.unchanged) == (0, 0, exported.clips), second
    same_clips(library_a, library_b)
    db_mb = library_b.stat().st_size / 1e6

    print(f"bundle          {bundle.name}: {exported.bytes / 1e6:.1f} MB")
    print(f"clips           {exported.clips}")
    print(
        f"export          {export_s:.1f} s (CPU {export_cpu:.1f} s), peak RSS {export_rss >> 10} MB"
    )
    print(
        f"import          {import_s:.1f} s (CPU {import_cpu:.1f} s), "
        f"{exported.clips / import_s:,.0f} clips/s, peak RSS {import_rss >> 10} MB, "
        f"library B {db_mb:.0f} MB"
    )
    print(
        f"re-import       {again_s:.1f} s (CPU {again_cpu:.1f} s), 0 new, 0 merged, "
        f"peak RSS {again_rss >> 10} MB"
    )
    print(f"report          {second.summary()}")
    print(
        f"machine load    {load:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores; other work)"
    )
    if shutil.disk_usage(work).free < 5e9:
        print("note: under 5 GB free; delete bench/out/bundle when done")


if __name__ == "__main__":
    main()
