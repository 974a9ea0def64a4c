"""PDQ of a 64x64 grey picture, calling pdqhash's own C++ function without its Python wrapper.

``pdqhash.compute`` takes an RGB array, makes it grey in numpy (three float64 products, for
pictures whose three channels are equal), allocates a scratch buffer, and turns the 256 bits
into a vector with a Python loop: 72 us a call, of which the C++ hashing is 35.  Every
sampled frame is hashed 2 to 4 times (3222 calls for the 14 shared videos), so the wrapper
cost 0.12 CPU s of ~7.3.  ``PdqHasher`` calls the same compiled function
(``pdqHash256FromFloatLuma``, exported by the wheel's extension module) on a float copy of
the grey picture: equal channels weighted 0.299/0.587/0.114 give back the grey level itself
in float32 (checked for all 256 levels), so the bits and the quality are those of
``pdqhash.compute``, byte for byte (tests/test_pdq_call.py).  Should a build of pdqhash not
export the function, the wrapper is used as before.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pdqhash

SIDE = 64  # PDQ's working size: pictures of this size skip its own down-scaling
# pdqhash 0.2.x: facebook::pdq::hashing::pdqHash256FromFloatLuma(float*, float*, int, int,
# float[64][64], float[16][64], float[16][16], Hash256&, int&), as the C++ compiler names it.
_SYMBOL = "_ZN8facebook3pdq7hashing23pdqHash256FromFloatLumaEPfS2_iiPA64_fS4_PA16_fRNS1_7Hash256ERi"


def _native() -> ctypes._CFuncPtr | None:
    """The compiled hashing function, or None when this pdqhash does not export it."""
    try:
        function = getattr(ctypes.CDLL(pdqhash.bindings.__file__), _SYMBOL)
    except (OSError, AttributeError):
        return None
    pointer = ctypes.c_void_p
    function.argtypes = [pointer, pointer, ctypes.c_int, ctypes.c_int] + [pointer] * 5
    function.restype = None
    return function


_NATIVE = _native()


class PdqHasher:
    """Hashes 64x64 grey pictures; holds the C++ function's buffers, so one per thread."""

    def __init__(self) -> None:
        self.native = _NATIVE
        self.luma = np.empty((SIDE, SIDE), np.float32)  # filtered in place by PDQ
        buffers = (
            self.luma,
            np.empty((SIDE, SIDE), np.float32),  # scratch of the same size
            np.empty((SIDE, SIDE), np.float32),  # 64x64 after down-scaling
            np.empty((16, SIDE), np.float32),  # first DCT pass
            np.empty((16, 16), np.float32),  # the 16x16 DCT
        )
        self.hash = np.zeros(16, np.uint16)  # Hash256: 16 little-endian words, bit k of 256
        self.quality = ctypes.c_int(0)
        self._keep = buffers  # the addresses below point into these
        self.addresses = [b.ctypes.data for b in buffers]
        self.addresses[2:2] = [SIDE, SIDE]
        self.addresses += [self.hash.ctypes.data, ctypes.addressof(self.quality)]

    def __call__(self, square: np.ndarray) -> tuple[np.ndarray, int]:
        """(the 32-byte hash, most significant bit first as ``np.packbits`` of
        ``pdqhash.compute``'s bit vector; PDQ's quality 0..100) of a (64, 64) uint8 picture."""
        if self.native is None:
            bits, quality = pdqhash.compute(np.repeat(square[:, :, None], 3, axis=2))
            return np.packbits(bits.astype(np.uint8)), quality
        np.copyto(self.luma, square, casting="unsafe")
        self.native(*self.addresses)
        # pdqhash's vector is bit 255 first down to bit 0: the words' bytes in reverse order.
        return self.hash.view(np.uint8)[::-1].copy(), self.quality.value
