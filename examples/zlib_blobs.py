"""``zlib.compress`` over many blobs: a C function that releases the GIL while it compresses.

    gilfree compare --workload examples.zlib_blobs:workload

64 blobs of 1 MB of text-like bytes (16 letters, at random), one ``zlib.compress`` each.
CPython's zlib module drops the GIL around the compression of any input larger than a few
kilobytes, so threads run the calls at once; processes can too, but each run pickles every
blob to a worker and its compressed form back.
"""

from __future__ import annotations

import zlib

import numpy as np

from gilfree import Workload


def blobs(n: int, size: int, seed: int = 0) -> list[bytes]:
    """``n`` blobs of ``size`` bytes, each a letter of a..p at random: about 2:1 for zlib."""
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 16, size, dtype=np.uint8) + ord("a")).tobytes() for _ in range(n)]


class Decompresses:
    """The check: every compressed blob decompresses to its blob (untimed, after each run)."""

    def __init__(self, data: list[bytes]) -> None:
        self.data = data

    def __call__(self, result: list[bytes]) -> bool:
        return len(result) == len(self.data) and all(
            zlib.decompress(c) == b for c, b in zip(result, self.data, strict=True)
        )


def workload(n_blobs: int = 64, blob_bytes: int = 1 << 20) -> Workload:
    data = blobs(n_blobs, blob_bytes)
    return Workload.map(zlib.compress, data, check=Decompresses(data), name="zlib.compress")
