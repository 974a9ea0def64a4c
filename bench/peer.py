"""The plain peer the issue compares oldclip with: imagehash's pHash of one frame a second.

A query matches a reference when their closest pair of hashes (any query frame, any
reference frame) is at most ``PEER_MAX_DISTANCE`` bits apart, of 64.  No temporal check, no
mirror, no crop handling: what anyone gets from ``pip install imagehash`` and a loop.
"""

from __future__ import annotations

from pathlib import Path

import av
import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Not tuned on this bench: 8 of 64 bits (12.5%) is the usual "near duplicate" cut for pHash.
PEER_MAX_DISTANCE = 8


def _packed(image: Image.Image) -> np.ndarray:
    return np.packbits(imagehash.phash(image).hash.flatten())


def phashes(path: Path) -> np.ndarray:
    """(n, 8) uint8: a photo's pHash, or a video's (GIF's) at each whole second."""
    try:
        with Image.open(path) as img:
            if img.format != "GIF":
                return _packed(ImageOps.exif_transpose(img))[None]
    except (UnidentifiedImageError, OSError):
        pass
    found, due = [], 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start = None
        for frame in container.decode(stream):  # every frame, as a plain loop does
            t = frame.time or 0.0
            start = t if start is None else start
            if t - start + 1e-6 >= due:
                found.append(_packed(frame.to_image()))
                due += 1.0
    return np.array(found, dtype=np.uint8).reshape(-1, 8)


def best_distance(query: np.ndarray, reference: np.ndarray) -> int:
    """Bits between the closest pair of hashes; 64 when either side has none."""
    if not len(query) or not len(reference):
        return 64
    xor = np.bitwise_xor(query[:, None, :], reference[None, :, :])
    return int(np.unpackbits(xor, axis=2).sum(axis=2).min())
