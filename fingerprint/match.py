"""From frame-hash hits to clip matches: candidates from the index, then temporal agreement.

A single close frame pair proves little (dark frames, sky, a test card look alike).  A repost
is a run of query frames that match reference frames in the same order with a steady offset
(and a steady speed, for sped-up reposts).  So candidates found by the index are verified by a
Hough vote over (speed, offset) lines, and scored by how many frames agree on that line and
how closely.

Photos have no time: a photo on either side (or a still shown as a video) is verified by its
single best frame pair, with a tighter radius since there is no temporal evidence to lean on.

Benign media (channel intros, news logos, test cards, stock footage) prove nothing about where
footage comes from.  Frames that look like them are cut out of the query and of every candidate
before searching and verifying (``ignore``), so an intro shared by unrelated videos neither makes
them match nor hides the footage around it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from . import signal
from .settings import MatchSettings
from .signal import Evidence, VotingIndex, ranked
from .types import (
    FLIPPED_VARIANTS,
    HASH_BYTES,
    PDQ,
    QUERY_VARIANTS,
    UPRIGHT_VARIANTS,
    VARIANT_CLOSE,
    VARIANT_DENSE,
    VARIANT_FULL,
    VARIANT_ZOOM,
    Fingerprint,
    Match,
)

if TYPE_CHECKING:  # the index (faiss) loads only where one is built
    from .index import HashIndex
    from .signal import SignalIndex

# Seconds of stored frames agreeing in order that make a match certain.  Fewer count
# proportionally, so a short query is judged on what it has and a chance pair weighs little.
FULL_EVIDENCE_S = 4.0
# How a stored media item is looked at: whole, zoomed, close up (see fingerprint.types).
REFERENCE_VIEWS = ((VARIANT_FULL, VARIANT_DENSE), (VARIANT_ZOOM,), (VARIANT_CLOSE,))
SPEEDS = (0.5, 2 / 3, 0.8, 1.0, 1.25, 1.5, 2.0)  # playback-speed changes reposts make
# Bits within which all frames of a video count as one picture (a still): re-encoding a still
# moves its PDQ by a few bits; two moments of real footage are dozens apart.
STILL_RADIUS = 16
MAX_BENIGN_REPEATS = 4  # times one benign clip is looked for in a video (intro, outro, ...)
# Candidates in a row matching nothing after which a picture signal's candidates are left, once
# the matches found place every picture of a video query (``find_matches``).  Copies of the
# footage can rank behind chance candidates: stopping at the first miss (photos included),
# 9 of the 475 queries of bench/accuracy.py, photos in a screenshot or padded, lost the video
# filmed from the photo, ranked after 1-2 unrelated items; no video query lost a copy.
MISSES_ONCE_PLACED = 3


Loader = Callable[[int], Fingerprint | None]


def find_matches(
    query: Fingerprint,
    index: HashIndex,
    load: Loader,
    settings: MatchSettings = MatchSettings(),
    ignore: HashIndex | None = None,
    indexes: Mapping[str, SignalIndex] | None = None,
) -> list[Match]:
    """Matches of ``query`` among the indexed media, best first.

    ``index`` is the "pdq" signal's index, ``indexes`` those of the other signals by name:
    the candidates are the union of what each finds for the query's data of that signal, and
    each candidate is judged on every signal both sides have (``combine``).
    ``load`` fetches a stored media item's fingerprint (an index keeps codes, not times).
    ``ignore`` holds the hashes of benign media: query and candidate frames that look like
    them are left out (see ``without_ignored``); ``load`` must fetch benign media too.  Benign
    media must not be in any index, or they would be candidates themselves.

    A cascade: the PDQ candidates are judged first, and the other picture signals look up
    only the query pictures that no match found so far explains (``unexplained``).  Local
    features exist for what a global hash cannot survive; looking up the descriptors of
    pictures PDQ already placed would cost most of a check at scale (~23 of 27 CPU s at 1M
    hashes, ``bench/index.py``) to find candidates for footage already found.  For the same
    reason, once the matches found place every picture of a video, a picture signal's
    candidates (judged best first) are left after ``MISSES_ONCE_PLACED`` in a row match
    nothing: verifying a candidate's local features costs two exact scans of its descriptors
    (query upright and mirrored) and RANSAC on up to 80 picture pairs, ~80 ms CPU for a 20 s
    clip, and for an off-centre crop at 1M hashes (``bench/index.py --saved-only``) the 24
    candidates after its source took 1.8 of the 2.0 CPU s of verification.  Other copies of
    the footage (other cuts, the watchers' sightings) share its descriptors and rank beside
    it, so they are still judged (``tests/test_local_candidates.py``).  A photo or a still
    is one picture, cheap to compare, whose copies ranked less well: all are judged.

    A query's local features carry its pictures mirrored too (``data.mirrored``, for mirrored
    reposts), and looking both sides up doubled the search: an index that counts one side's
    votes (``signal.VotingIndex``) looks the upright side up first, its candidates judged
    until one matches nothing while the query is not placed, and the mirrored side only for the
    pictures still unexplained, its candidates ranked with the upright ones as one lookup of
    both would (``ranked``; those judged already are not judged again).  An off-centre crop
    at 1M hashes and 25M descriptors (``bench/index.py --saved-only --query``): the search
    1.19 -> 0.58 CPU s, the same candidates.  A mirrored repost costs one upright candidate
    verified more (~0.08 s); a stored mirrored copy of footage the upright pictures placed is
    not looked for (as local features do not look up the pictures PDQ placed).
    """
    if ignore is not None and not len(ignore):
        ignore = None  # nothing benign: skip the per-candidate filtering
    if ignore is not None:
        query = without_ignored(query, ignore, load, settings)
    seen: set[int] = set()

    def judged(
        candidates: list[int],
        settled: Callable[[list[Match]], bool] | None = None,
        first_pass: bool = False,
    ) -> list[Match]:
        """Matches among ``candidates``, judged best first; with ``settled``, the rest are
        left after ``MISSES_ONCE_PLACED`` in a row match nothing once ``settled(found)``, and
        in a ``first_pass`` (a second lookup follows, ranking them again) at the first that
        matches nothing while not settled."""
        found: list[Match] = []
        misses = 0
        for media_id in dict.fromkeys(int(m) for m in candidates if int(m) not in seen):
            seen.add(media_id)
            reference = load(media_id)
            if reference is not None and ignore is not None:
                reference = without_ignored(reference, ignore, load, settings)
            if reference is None:
                continue
            match = combine(query, reference, media_id, settings)
            misses = 0 if match is not None else misses + 1
            if match is not None:
                found.append(match)
            elif settled is not None and (
                misses >= MISSES_ONCE_PLACED if settled(found) else first_pass
            ):
                break
        return found

    matches = judged(
        index.candidates(query, settings.max_candidates, settings.index_radius)
        if len(query)
        else []
    )
    for name, signal_index in (indexes or {}).items():
        data = whole = query.signals.get(name)
        picture = data is not None and signal.get(name).picture
        if picture:
            data = unexplained(query, data, matches, settings)
        if data is None or not len(signal_index):
            continue
        timed = picture and query.kind == "video" and not _still(query)
        placed = partial(_all_placed, query, whole, matches, settings) if timed else None
        voting = picture and isinstance(signal_index, VotingIndex)
        if not voting or getattr(data, "mirrored", None) is None:
            matches += judged(signal_index.candidates(data, settings.max_candidates), placed)
            continue
        # Upright first: the mirrored side is looked up only for what that leaves unexplained.
        upright = signal_index.votes(data)
        matches += judged(ranked([upright], settings.max_candidates), placed, first_pass=True)
        rest = unexplained(query, whole, matches, settings)
        if rest is not None and rest.mirrored is not None:
            both = [upright, signal_index.votes(rest.mirrored)]
            matches += judged(ranked(both, settings.max_candidates), placed)
    matches.sort(key=lambda m: (m.sound_only, -m.score, -m.frames_matched, m.media_id))
    return matches


def _all_placed(
    query: Fingerprint,
    data: object,
    matches: list[Match],
    settings: MatchSettings,
    found: list[Match],
) -> bool:
    """Whether ``matches`` and ``found`` together explain every picture of ``data``."""
    return unexplained(query, data, matches + found, settings) is None


def unexplained(
    query: Fingerprint, data: object, matches: list[Match], settings: MatchSettings
) -> object | None:
    """A picture signal's query ``data`` without the pictures that ``matches`` explain (None
    when they explain them all, or when data with no ``without_times`` is explained at all).

    A picture is explained when a match with picture evidence covers its time (within
    ``time_tolerance``); a photo or a still, which has no time, by any such match.
    """
    placed = [m for m in matches if not m.sound_only]
    if not placed:
        return data
    drop = getattr(data, "without_times", None)
    times = getattr(data, "times", None)
    if query.kind != "video" or _still(query) or drop is None or times is None:
        return None
    times = np.asarray(times)
    tolerance = settings.time_tolerance
    covered = np.zeros(len(times), dtype=bool)
    for m in placed:
        covered |= (times >= m.query_start - tolerance) & (times <= m.query_end + tolerance)
    return drop(times[covered]) if covered.any() else data


def combine(
    query: Fingerprint, reference: Fingerprint, media_id: int, settings: MatchSettings
) -> Match | None:
    """One verdict on (query, reference) from every signal both sides have.

    A picture evidence anchors the match; the other signals count when they place the
    query at the same offset in the reference (within ``time_tolerance``; a photo has no time,
    so every picture signal agrees with it).  Agreeing signals reinforce each other as
    independent witnesses: the score is ``1 - prod(1 - score_i)``, so ``min_score`` asks the
    same certainty whichever signals, and however many, gave it.

    Sound alone proves nothing about the picture (music and voice-overs are laid over other
    footage): without picture evidence it is a ``sound_only`` match, reported and never "old".
    Picture evidence too weak to stand alone (at least ``support_score``) that sound places at
    the same offset is what a covered or filmed-off-a-screen repost leaves: together they are a
    match of the picture and the sound.
    """
    relaxed = replace(settings, min_score=min(settings.min_score, settings.support_score))
    picture, sound = [], []
    for name in signal.PLUGINS:
        mine, theirs = query.signal_data(name), reference.signal_data(name)
        if mine is None or theirs is None or (name == PDQ and not (len(mine) and len(theirs))):
            continue
        plugin = signal.get(name)
        try:
            found = plugin.compare(mine, theirs, relaxed if plugin.picture else settings)
        except Exception as exc:  # noqa: BLE001 - a plug-in's bug must not stop matching
            warnings.warn(
                f"signal {name!r} failed to compare: {exc!r}", RuntimeWarning, stacklevel=3
            )
            continue
        if found is not None:
            (picture if plugin.picture else sound).append(found)
    sound.sort(key=lambda e: -e.score)
    timed = query.kind == "video" and reference.kind == "video"

    def agree(a: Evidence, b: Evidence) -> bool:
        return not timed or abs(a.offset - b.offset) <= settings.time_tolerance

    # Each picture evidence in turn places the query; the placement most signals confirm, by
    # the combined score, wins (a signal fooled by a similar moment elsewhere is outvoted).
    best: Match | None = None
    for anchor in picture:
        others = [e for e in picture + sound if e is not anchor and agree(anchor, e)]
        found = _match(media_id, anchor, [anchor, *others], settings)
        if found is not None and (best is None or found.score > best.score):
            best = found
    if best is not None or not sound:
        return best
    return _match(media_id, sound[0], [sound[0]], settings, sound_only=True)


def _match(
    media_id: int,
    anchor: Evidence,
    witnesses: list[Evidence],
    settings: MatchSettings,
    sound_only: bool = False,
) -> Match | None:
    """The Match of agreeing evidence, placed where ``anchor`` puts it."""
    doubt = float(np.prod([1.0 - e.score for e in witnesses]))
    score = round(1.0 - doubt, 4)
    if score < settings.min_score:
        return None
    return Match(
        media_id=media_id,
        score=score,
        query_start=anchor.query_start,
        query_end=anchor.query_end,
        ref_start=anchor.ref_start,
        ref_end=anchor.ref_end,
        frames_matched=anchor.units,
        mirrored=anchor.mirrored,
        best_pair=anchor.best_pair,
        signals=tuple(dict.fromkeys(e.signal for e in witnesses)),
        sound_only=sound_only,
    )


def without_ignored(
    fp: Fingerprint, ignore: HashIndex, load: Loader, settings: MatchSettings
) -> Fingerprint:
    """``fp`` without the frames that look like the media in ``ignore`` (benign media).

    A frame goes, all its variants with it, when its whole or mirrored picture lies within
    ``benign_radius`` of an ignored hash.  Frame by frame is not enough: a copy of an intro
    sampled between the stored frames, or degraded by a low bitrate, has frames far from every
    stored one.  So each benign media item a frame hit is also verified against ``fp`` like any
    candidate (``load`` fetches it), and the whole stretch that plays along with it goes; then
    again on what is left, as an intro often comes back as the outro.  Returns ``fp`` itself
    when nothing goes.
    """
    searched = np.flatnonzero(np.isin(fp.variants, QUERY_VARIANTS))
    hits = ignore.search(fp.hashes[searched], settings.benign_radius)
    if not len(hits):
        return fp
    times = np.unique(fp.times)
    dropped = np.isin(times, fp.times[searched[np.unique(hits.query)]])
    margin = settings.time_tolerance / 2
    for media_id in np.unique(hits.media).tolist():
        benign = load(media_id)
        covered = np.zeros(len(times), dtype=bool)  # stretches found playing along ``benign``
        for _ in range(MAX_BENIGN_REPEATS if benign is not None else 0):
            found = verify(_only(fp, times[~covered]), benign, media_id, settings)
            if found is None:
                break
            stretch = (times >= found.query_start - margin) & (times <= found.query_end + margin)
            if not (stretch & ~covered).any():
                break
            covered |= stretch
        dropped |= covered
    return _only(fp, times[~dropped])


def _only(fp: Fingerprint, times: np.ndarray) -> Fingerprint:
    """``fp`` with only the frames taken at ``times`` (``fp`` itself when that is all).

    Every other signal whose data has a ``without_times`` method (the local features' kept
    pictures) drops its own pictures taken at the frames left out: a benign intro must not
    make a match through any signal.
    """
    keep = np.isin(fp.times, times)
    if keep.all():
        return fp
    dropped = np.unique(fp.times[~keep])
    signals = {}
    for name, data in fp.signals.items():
        drop = getattr(data, "without_times", None)
        left = data if drop is None else drop(dropped)
        if left is not None:
            signals[name] = left
    return replace(
        fp,
        hashes=fp.hashes[keep],
        times=fp.times[keep],
        variants=fp.variants[keep],
        signals=signals,
    )


def verify(
    query: Fingerprint, reference: Fingerprint, media_id: int, settings: MatchSettings
) -> Match | None:
    """Decide whether ``query`` shows (part of) ``reference``, and where.

    The reference is looked at whole and through each of its crops (views), the query upright
    and flipped; the best agreement wins.  Each view is aligned on its own, so a vertical repost
    is judged by how many of the reference's close-ups it matches, not by all of its frames.
    """
    best: Match | None = None
    # Without motion there is no order of frames to check: judged like a photo (its single
    # best pair, within ``photo_radius``), so a still shown as a video is not asked for three
    # frames in order that it cannot have.
    still = query.kind == "photo" or reference.kind == "photo" or _still(query) or _still(reference)
    for view in REFERENCE_VIEWS:
        ref_keep = np.isin(reference.variants, view)
        if not ref_keep.any():
            continue
        ref_hashes, ref_times = reference.hashes[ref_keep], reference.times[ref_keep]
        for mirrored, variants in ((False, UPRIGHT_VARIANTS), (True, FLIPPED_VARIANTS)):
            keep = np.isin(query.variants, variants)
            if not keep.any():
                continue
            distances = hamming(query.hashes[keep], ref_hashes)
            q_times = query.times[keep]
            if still:
                found = _best_pair(distances, q_times, ref_times, media_id, mirrored, settings)
            else:
                found = _temporal(distances, q_times, ref_times, media_id, mirrored, settings)
            if found is not None and (best is None or found.score > best.score):
                best = found
    return best


def _still(fp: Fingerprint) -> bool:
    """Whether every upright frame of a video shows the same picture (a still shown as a
    video, a slide): all within ``STILL_RADIUS`` bits of the first."""
    hashes = fp.hashes[np.isin(fp.variants, UPRIGHT_VARIANTS)]
    return len(hashes) > 1 and int(hamming(hashes[:1], hashes).max()) <= STILL_RADIUS


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All-pairs Hamming distances between two stacks of hashes: an (len(a), len(b)) array."""
    x = a.reshape(-1, HASH_BYTES).view(np.uint64)
    y = b.reshape(-1, HASH_BYTES).view(np.uint64)
    return np.bitwise_count(x[:, None, :] ^ y[None, :, :]).sum(axis=2, dtype=np.int32)


def similarity(distance: np.ndarray | float) -> np.ndarray | float:
    """1 for identical hashes, 0 at the distance of unrelated pictures (half the bits)."""
    return np.clip(1.0 - np.asarray(distance, dtype=np.float64) / (HASH_BYTES * 4), 0.0, 1.0)


def _vote(tq: np.ndarray, tr: np.ndarray, ri: np.ndarray, tol: float) -> tuple[float, float]:
    """The (speed, offset) line through the most reference frames: a Hough vote over offsets.

    A reference frame counts once per bin however many query frames match it there, so a still
    scene (one frame matching many) cannot outvote a real run.
    """
    best, best_votes = (1.0, 0.0), -1
    for speed in SPEEDS:
        bins = np.round((tr - speed * tq) / tol).astype(np.int64)
        pairs = np.unique(np.stack([bins, ri]), axis=1)
        values, votes = np.unique(pairs[0], return_counts=True)
        # Neighbouring bins share the tolerance window: add their votes.
        lookup = dict(zip(values.tolist(), votes.tolist(), strict=True))
        for value in values.tolist():
            total = lookup[value] + (lookup.get(value - 1, 0) + lookup.get(value + 1, 0)) // 2
            if total > best_votes:
                best, best_votes = (speed, value * tol), total
    return best


def _rate(times: np.ndarray) -> float:
    """Frames per second of a sorted array of distinct frame times."""
    if len(times) < 2 or times[-1] <= times[0]:
        return 1.0
    return (len(times) - 1) / float(times[-1] - times[0])


def _best_pair(distances, q_times, ref_times, media_id, mirrored, settings) -> Match | None:
    qi, ri = np.unravel_index(np.argmin(distances), distances.shape)
    d = int(distances[qi, ri])
    if d > settings.photo_radius:
        return None
    score = float(similarity(d))
    if score < settings.min_score:
        return None
    tq, tr = float(q_times[qi]), float(ref_times[ri])
    return Match(media_id, score, tq, tq, tr, tr, 1, mirrored, (tq, tr))


def _temporal(distances, q_times, ref_times, media_id, mirrored, settings) -> Match | None:
    qi, ri = np.nonzero(distances <= settings.frame_radius)
    if not len(qi):
        return None
    tq, tr, d = q_times[qi], ref_times[ri], distances[qi, ri]
    tol = settings.time_tolerance
    speed, offset = _vote(tq, tr, ri, tol)
    on_line = np.abs(tr - (speed * tq + offset)) <= tol
    # The vote's offset is only as fine as its bins: refine it on the pairs it gathered, then
    # keep the pairs that agree with the refined line.
    offset = float(np.median(tr[on_line] - speed * tq[on_line]))
    residual = np.abs(tr - (speed * tq + offset))
    on_line = residual <= tol / 2
    if not on_line.any():
        return None  # the pairs straddle the voted line: no run of frames agrees on one offset
    tq, tr, d, residual = tq[on_line], tr[on_line], d[on_line], residual[on_line]
    # One pair per reference frame: its closest query frame on the line.
    order = np.lexsort((residual, d, tr))
    first = np.concatenate(([True], np.diff(tr[order]) != 0))
    tq, tr, d = tq[order][first], tr[order][first], d[order][first]
    # Three frames in order, or two that are each as close as a photo match must be (short or
    # mostly featureless footage may have no more than that).
    frame_times = np.unique(ref_times)
    if len(tr) < min(3, len(frame_times)) and not (
        len(tr) >= 2 and d.max() <= settings.photo_radius
    ):
        return None
    ref_start, ref_end = float(tr.min()), float(tr.max())
    in_span = int(((frame_times >= ref_start - 1e-6) & (frame_times <= ref_end + 1e-6)).sum())
    evidence = min(1.0, len(tr) / max(1.0, min(FULL_EVIDENCE_S * _rate(frame_times), in_span)))
    score = float(evidence * np.mean(similarity(d)))
    if score < settings.min_score:
        return None
    k = int(np.argmin(d))
    return Match(
        media_id=media_id,
        score=round(score, 4),
        query_start=max(0.0, (ref_start - offset) / speed),
        query_end=max(0.0, (ref_end - offset) / speed),
        ref_start=ref_start,
        ref_end=ref_end,
        frames_matched=len(tr),
        mirrored=mirrored,
        best_pair=(float(tq[k]), float(tr[k])),
    )
