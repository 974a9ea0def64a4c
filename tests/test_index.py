"""HashIndex against the brute-force reference (fingerprint.index.linear_search).

The hashes are seeded random and clustered the way frame hashes are: each media item is a few
"scenes", and each stored frame is its scene's hash with some bits flipped.  Queries are other
noisy copies of the same scenes, so many pairs fall near the search radius, on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

import fingerprint.index as index_module
from fingerprint import HashIndex
from fingerprint.index import linear_search
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

    def index(self, how: str = "add") -> HashIndex:
        """An index of every item, added one by one (a growing library) or built in bulk."""
        if how == "build":
            return HashIndex.build(self.items.items())
        index = HashIndex()
        for media_id, hashes in self.items.items():
            index.add(media_id, hashes)
        return index


def as_set(hits) -> set[tuple[int, int, int]]:
    return set(zip(hits.query.tolist(), hits.media.tolist(), hits.distance.tolist(), strict=True))


@contextmanager
def flat_limit(value: int) -> Iterator[None]:
    """Lower the size at which HashIndex switches to IVF, for this block only."""
    saved = index_module.FLAT_LIMIT
    index_module.FLAT_LIMIT = value
    try:
        yield
    finally:
        index_module.FLAT_LIMIT = saved


@pytest.fixture(scope="module")
def small() -> Corpus:
    return Corpus(seed=11, media=60)  # 2880 hashes: flat


@pytest.mark.parametrize("how", ["add", "build"])
def test_flat_index_equals_linear_scan(small: Corpus, how: str) -> None:
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


@pytest.fixture(params=["add", "build"])
def large(request) -> tuple[Corpus, HashIndex]:
    corpus = Corpus(seed=5, media=250)  # 12000 hashes
    with flat_limit(4000):
        index = corpus.index(request.param)
    return corpus, index


def test_ivf_returns_only_true_pairs_with_high_recall(large) -> None:
    corpus, index = large
    assert isinstance(index._index, index_module.faiss.IndexBinaryIVF), "IVF path not taken"
    queries = corpus.queries(300)
    found = as_set(index.search(queries, RADIUS))
    expected = linear_search(*corpus.stored(), queries, RADIUS)
    false = found - expected
    assert not false, f"{len(false)} pairs the linear scan does not have, e.g. {sorted(false)[:3]}"
    recall = len(found & expected) / len(expected)
    assert recall >= 0.9, f"recall {recall:.3f} of {len(expected)} linear-scan pairs"


def test_ivf_remove_hides_the_media(large) -> None:
    corpus, index = large
    queries = corpus.items[1042][:5]
    assert 1042 in set(index.search(queries, RADIUS).media.tolist())
    index.remove(1042)
    assert index.media_count == 249
    assert 1042 not in set(index.search(queries, RADIUS).media.tolist())
    # The other media are still found.
    assert 1043 in set(index.search(corpus.items[1043][:5], RADIUS).media.tolist())


def test_media_added_after_training_are_found(large) -> None:
    corpus, index = large
    rng = np.random.default_rng(99)
    scene = rng.integers(0, 256, (1, HASH_BYTES), dtype=np.uint8)
    newcomer = flip(rng, np.repeat(scene, 12, axis=0), 4, 30)
    with flat_limit(4000):
        index.add(5000, newcomer)
    assert index.media_count == 251
    query = flip(rng, scene, 10, 20)
    hits = index.search(query, RADIUS)
    assert 5000 in set(hits.media.tolist())
    expected = linear_search(newcomer, np.full(len(newcomer), 5000), query, RADIUS)
    found = {h for h in as_set(hits) if h[1] == 5000}
    assert found <= expected and len(found) >= 0.9 * len(expected)


def test_retraining_a_grown_index_keeps_every_row() -> None:
    # Trained at ~4000 rows, then grown past four times that: the index retrains on every
    # stored row, read back out of the old cells.
    corpus = Corpus(seed=8, media=400)  # 19200 hashes
    with flat_limit(4000):
        index = corpus.index("add")
    assert isinstance(index._index, index_module.faiss.IndexBinaryIVF)
    assert index._trained_size > 4 * 4000, "the index was not retrained as it grew"
    assert len(index) == 19200 and index.media_count == 400
    queries = corpus.queries(300)
    found = as_set(index.search(queries, RADIUS))
    expected = linear_search(*corpus.stored(), queries, RADIUS)
    assert found <= expected
    assert len(found) >= 0.9 * len(expected)
    # Every media item, early or late, is still found by its own frames.
    probes = np.stack([hashes[0] for hashes in corpus.items.values()])
    hits = index.search(probes, 0)
    assert set(zip(hits.query.tolist(), hits.media.tolist(), strict=True)) == {
        (i, media_id) for i, media_id in enumerate(corpus.items)
    }
