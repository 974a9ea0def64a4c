"""Extra samples of stored video where the picture moves fast (``decode(fast_motion=True)``).

Stored video is sampled on a grid about 1/6 s apart; a screenshot or still of a fast
handheld pan taken between two grid samples can be farther than ``photo_radius`` from both.
Only media stored in the library get these samples: on the query side they move the
temporal vote (see ``decode.decode``).
"""

from __future__ import annotations

import av
import numpy as np
from PIL import Image

from .pdq_call import PdqHasher

# Fast motion (``Motion``): two grid samples more than BETWEEN_BITS PDQ bits apart have
# BETWEEN_MAX of the frames decoded between them sampled too.  On 40 generated pans (10
# photos, 3 s each; /tmp measurement, stills JPEG'd 1-4 frames past a grid sample) stills
# found: fast pans 41 -> 73 of 87, shaky 42 -> 61 of 88, slow and medium unchanged, 0 wrong;
# indexed hashes per second of pan 10.68 -> 14.69.  Up to 4 frames: 73 and 80 found for
# 26.09 per second; 2: 68 and 69 for 18.58; 80 bits instead of 60 changed little (68, 68).
BETWEEN_BITS = 60
BETWEEN_MAX = 1


class Motion:
    """Samples fast motion between grid samples, from frames decoded anyway.

    A still of fast footage (a screenshot of a handheld pan) taken between two grid samples,
    1/6 s apart, can be 44-102 PDQ bits from both, past ``photo_radius``.  So each grid sample
    is hashed here too (130 us, the whole frame) and compared with the previous one: when they
    differ by more than ``BETWEEN_BITS``, the ``BETWEEN_MAX`` frames decoded between them
    closest to evenly spread times are sampled too (dense samples, before the grid sample).
    Only those frames are held meanwhile.  Frames that ``_frames`` skips (non-reference
    frames no grid point needs) are not looked for: decoding all frames of a gap after a fast
    one cost 8% more CPU on 4 fast shared videos for 1 hash more of 710.
    """

    def __init__(self, step: float) -> None:
        self.step = step
        self.last = 0.0  # time of the last grid sample
        self.held: list[tuple[float, av.VideoFrame] | None] = [None] * BETWEEN_MAX
        self.previous: np.ndarray | None = None
        self.hasher = PdqHasher()

    def hold(self, t: float, frame: av.VideoFrame) -> None:
        """Keep a frame decoded between grid samples if it is the closest yet to its time."""
        share = (t - self.last) / self.step * (BETWEEN_MAX + 1)
        slot = min(BETWEEN_MAX - 1, max(0, round(share) - 1))
        target = self.last + (slot + 1) * self.step / (BETWEEN_MAX + 1)
        kept = self.held[slot]
        if kept is None or abs(t - target) < abs(kept[0] - target):
            self.held[slot] = (t, frame)

    def between(self, t: float, grey: np.ndarray, cut: bool) -> list[tuple[float, av.VideoFrame]]:
        """The held frames to sample before the grid sample ``grey`` at ``t`` (none across a
        cut: two shots differ without moving)."""
        square = np.asarray(Image.fromarray(grey).resize((64, 64), Image.Resampling.BILINEAR))
        packed, _quality = self.hasher(square)
        held = [h for h in self.held if h is not None]
        self.held = [None] * BETWEEN_MAX
        self.last = t
        previous, self.previous = self.previous, packed
        if previous is None or cut or not held:
            return []
        if int(np.unpackbits(np.bitwise_xor(previous, packed)).sum()) <= BETWEEN_BITS:
            return []
        return sorted(held, key=lambda h: h[0])
