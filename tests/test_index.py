"""HashIndex against the brute-force reference (fingerprint.index.linear_search).

The index is an exact scan in chunks of ``chunk_rows`` codes; tests set a small chunk so that
small data take the path a large library takes (many chunks, rows spread over them).

The hashes are seeded random and clustered the way frame hashes are: each media item is a few
"scenes", and each stored frame is its scene's hash with some bits flipped.  Queries are other
noisy copies of the same scenes, so many pairs fall near the search radius, on both sides.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import fingerprint.index as index_module
from fingerprint import HashIndex
from fingerprint.index import linear_search
from fingerprint.index_file import IndexFileError, load_index, save_index
from fingerprint.match import hamming
from fingerprint.types import HASH_BYTES

RADIUS = 52  # MatchSettings.index_radius
BITS = HASH_BYTES * 8


def flip(rng: np.random.Generator, base: np.ndarray, low: int, high: int) -> np.ndarray:
    """Copies of ``base`` hashes (n, 32) with low..high random bits flipped in each."""
    bits = np.unpackbits(base.reshape(-1, HASH_BYTES), axis=1)
    for row in bits:
        k = int(rng.integers(low, high + 1))
        row[rng.choice(BITS, k, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


class Corpus:
    """Media items made of clustered hashes, with the owner of every row."""

    def __init__(self, seed: int, media: int, scenes: int = 4, frames: int = 12):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.scenes = rng.integers(0, 256, (media, scenes, HASH_BYTES), dtype=np.uint8)
        self.items: dict[int, np.ndarray] = {}
        for m in range(media):
            base = np.repeat(self.scenes[m], frames, axis=0)
            self.items[1000 + m] = flip(rng, base, 4, 30)

    def stored(self, skip: frozenset[int] = frozenset()) -> tuple[np.ndarray, np.ndarray]:
        keep = [m for m in self.items if m not in skip]
        hashes = np.concatenate([self.items[m] for m in keep])
        owners = np.concatenate([np.full(len(self.items[m]), m) for m in keep])
        return hashes, owners

    def queries(self, count: int) -> np.ndarray:
        media = self.rng.integers(0, len(self.scenes), count)
        scene = self.rng.integers(0, self.scenes.shape[1], count)
        return flip(self.rng, self.scenes[media, scene], 10, 40)

    def index(self, how: str = "add", chunk_rows: int = index_module.CHUNK_ROWS) -> HashIndex:
        """An index of every item, added one by one (a growing library) or built in bulk."""
        if how == "build":
            return HashIndex.build(self.items.items(), chunk_rows=chunk_rows)
        index = HashIndex(chunk_rows)
        for media_id, hashes in self.items.items():
            index.add(media_id, hashes)
        return index


def as_set(hits) -> set[tuple[int, int, int]]:
    return set(zip(hits.query.tolist(), hits.media.tolist(), hits.distance.tolist(), strict=True))


@pytest.fixture(scope="module")
def small() -> Corpus:
    return Corpus(seed=11, media=60)  # 2880 hashes: one chunk


@pytest.mark.parametrize("how", ["add", "build"])
def test_index_equals_linear_scan(small: Corpus, how: str) -> None:
    index = small.index(how)
    assert len(index) == 2880 and index.media_count == 60
    queries = small.queries(150)
    hits = index.search(queries, RADIUS)
    expected = linear_search(*small.stored(), queries, RADIUS)
    assert as_set(hits) == expected
    # One hit per stored row within the radius: no row lost or reported twice.
    stored, _ = small.stored()
    assert len(hits) == int((hamming(queries, stored) <= RADIUS).sum())
    # The radius is inclusive, and the data do reach it on both sides.
    distances = hamming(queries, stored)
    assert (distances == RADIUS).any() and (distances == RADIUS + 1).any()
    assert hits.distance.max() == RADIUS


def test_empty_index_and_empty_query(small: Corpus) -> None:
    assert len(HashIndex().search(small.queries(3), RADIUS)) == 0
    assert len(small.index().search(np.zeros((0, HASH_BYTES), np.uint8), RADIUS)) == 0


def test_remove_hides_the_media(small: Corpus) -> None:
    index = small.index()
    gone = frozenset({1003, 1017})
    for media_id in gone:
        index.remove(media_id)
    assert index.media_count == 58
    queries = small.queries(150)
    hits = index.search(queries, RADIUS)
    assert not gone & set(hits.media.tolist())
    assert as_set(hits) == linear_search(*small.stored(skip=gone), queries, RADIUS)
    # Adding it back makes it findable again.
    index.add(1003, small.items[1003])
    assert 1003 in set(index.search(small.items[1003][:3], RADIUS).media.tolist())


def test_an_id_added_again_serves_only_its_new_hashes(small: Corpus) -> None:
    # SQLite reuses the id of deleted media: the old rows must not come back under it.
    index = small.index("build")
    index.remove(1005)
    index.add(1005, small.items[1006])
    assert 1005 not in set(index.search(small.items[1005], 0).media.tolist())
    assert 1005 in set(index.search(small.items[1006][:1], 0).media.tolist())


@pytest.fixture(params=["add", "build"])
def large(request) -> tuple[Corpus, HashIndex]:
    corpus = Corpus(seed=5, media=250)  # 12000 hashes in chunks of 1000: 12 chunks
    return corpus, corpus.index(request.param, chunk_rows=1000)


def test_chunked_scan_equals_linear_scan(large) -> None:
    corpus, index = large
    queries = corpus.queries(300)
    assert as_set(index.search(queries, RADIUS)) == linear_search(*corpus.stored(), queries, RADIUS)


def test_chunked_remove_hides_the_media(large) -> None:
    corpus, index = large
    queries = corpus.items[1042][:5]
    assert 1042 in set(index.search(queries, RADIUS).media.tolist())
    index.remove(1042)
    assert index.media_count == 249
    assert 1042 not in set(index.search(queries, RADIUS).media.tolist())
    # The other media are still found.
    assert 1043 in set(index.search(corpus.items[1043][:5], RADIUS).media.tolist())


def test_media_added_after_a_bulk_build_are_found(large) -> None:
    corpus, index = large
    rng = np.random.default_rng(99)
    scene = rng.integers(0, 256, (1, HASH_BYTES), dtype=np.uint8)
    newcomers = {5000 + i: flip(rng, np.repeat(scene, 12, axis=0), 4, 30) for i in range(40)}
    for media_id, hashes in newcomers.items():  # past TAIL_PARTS: merged as they come
        index.add(media_id, hashes)
    assert index.media_count == 290 and len(index) == 12000 + 40 * 12
    query = flip(rng, scene, 10, 20)
    stored = np.concatenate([corpus.stored()[0], *newcomers.values()])
    owners = np.concatenate([corpus.stored()[1], *(np.full(12, m) for m in newcomers)])
    assert as_set(index.search(query, RADIUS)) == linear_search(stored, owners, query, RADIUS)


def walks(rng: np.random.Generator, clips: int, frames: int = 150) -> np.ndarray:
    """Clip-like hashes: each clip a random walk, ~5 bits (2%) from one frame to the next."""
    base = rng.integers(0, 256, (clips, 1, HASH_BYTES), dtype=np.uint8)
    drift = np.packbits(rng.random((clips, frames - 1, BITS)) < 0.02, axis=2)
    return np.bitwise_xor.accumulate(np.concatenate([base, drift], axis=1), axis=1)


def exact_pairs(stored: np.ndarray, queries: np.ndarray, radius: int) -> set[tuple[int, int]]:
    """(query, stored row) within ``radius``, by numpy popcount, 20k rows at a time."""
    found = set()
    for start in range(0, len(stored), 20_000):
        q, r = np.nonzero(hamming(queries, stored[start : start + 20_000]) <= radius)
        found.update(zip(q.tolist(), (r + start).tolist(), strict=True))
    return found


@pytest.mark.parametrize("kind", ["clip-like", "uniform"])
def test_search_at_scale_finds_every_row_the_exact_scan_finds(kind: str) -> None:
    # 300k hashes: past the size where the index used to switch to IVF (200k), which then
    # returned ~0.9 of these pairs on clip-like codes and ~0.8 on uniform ones.
    rng = np.random.default_rng(12)
    clips = (
        walks(rng, 2000)
        if kind == "clip-like"
        else rng.integers(0, 256, (2000, 150, HASH_BYTES), dtype=np.uint8)
    )
    index = HashIndex.build((i, clip) for i, clip in enumerate(clips))
    stored = clips.reshape(-1, HASH_BYTES)
    # A 20 s repost: 120 noisy frames of stored clips, and 120 pictures that match nothing.
    picked = stored[rng.choice(len(stored), 120, replace=False)]
    queries = np.concatenate(
        [flip(rng, picked, 8, 56), rng.integers(0, 256, (120, HASH_BYTES), dtype=np.uint8)]
    )
    expected = exact_pairs(stored, queries, 64)
    hits = index.search(queries, 64)
    found = Counter(zip(hits.query.tolist(), hits.media.tolist(), strict=True))
    want = Counter((q, row // 150) for q, row in expected)
    assert len(expected) >= 120  # every noisy frame finds its own row, walks more
    recall = sum(min(n, found[k]) for k, n in want.items()) / len(expected)
    assert recall >= 0.99, f"recall {recall:.3f} of {len(expected)} exact-scan pairs"
    assert found == want  # in fact all of them, and nothing else


def test_a_saved_index_searches_like_the_one_saved(tmp_path, large) -> None:
    corpus, index = large
    index.remove(1042)
    index.add(6000, corpus.items[1042][:7])
    save_index(tmp_path / "x.index", index, {"library_version": 3})
    loaded, meta = load_index(tmp_path / "x.index")
    assert meta == {"library_version": 3}
    codes = loaded._parts[0]
    assert isinstance(codes.base, np.memmap) and not codes.flags.owndata, "mapped, not read"
    assert loaded.media_count == 250 and 1042 not in loaded and 6000 in loaded
    assert len(loaded) == 12000 - 48 + 7  # the removed media's rows are not saved
    queries = np.concatenate([corpus.queries(200), corpus.items[1042][:3]])
    assert as_set(loaded.search(queries, RADIUS)) == as_set(index.search(queries, RADIUS))
    assert load_index(tmp_path / "missing.index") is None


@pytest.mark.parametrize("damage", ["truncated", "hash byte", "table byte", "header", "empty"])
def test_a_damaged_index_file_is_refused(tmp_path, small: Corpus, damage: str) -> None:
    path = tmp_path / "x.index"
    save_index(path, small.index("build"), {})
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[:-100]
    elif damage == "hash byte":
        data[-5] ^= 0x10
    elif damage == "table byte":
        data[data.index(b"}") + 80] ^= 0x01
    elif damage == "header":
        data[12] = ord("#")
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(IndexFileError):
        load_index(path)


def test_a_hash_at_the_radius_is_found_and_one_bit_further_is_not_in_any_block() -> None:
    """Blocks are counted before they are searched (``_any_within``): the count's radius is
    inclusive where faiss's range search is exclusive, so the edge must hold in both."""
    rng = np.random.default_rng(12)
    query = rng.integers(0, 256, (2, HASH_BYTES), dtype=np.uint8)
    bits = np.unpackbits(query[0])
    at_radius, beyond = bits.copy(), bits.copy()
    at_radius[:RADIUS] ^= 1
    beyond[: RADIUS + 1] ^= 1
    index = HashIndex(chunk_rows=100)
    noise = rng.integers(0, 256, (1000, HASH_BYTES), dtype=np.uint8)  # ~128 bits from all
    index.add_many([(m, noise[m * 10 : m * 10 + 10]) for m in range(100)])
    index.add(500, np.packbits(at_radius)[None])  # row 1000: a block of its own
    index.add(501, np.packbits(beyond)[None])
    hits = index.search(query, RADIUS)
    found = zip(hits.query.tolist(), hits.media.tolist(), hits.distance.tolist(), strict=True)
    assert list(found) == [(0, 500, RADIUS)]
