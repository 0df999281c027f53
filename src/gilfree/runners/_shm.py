"""How the processes runner moves arrays: shared-memory segments, or pickled copies with diffs back.

``shm`` (the default): every distinct ``numpy.ndarray`` among a run's chunk arguments is copied
ONCE into its own ``multiprocessing.shared_memory`` segment; chunks then carry a small
:class:`ShmRef` in its place, and workers attach NumPy views (one attachment per segment,
cached in the worker). A run's segments are kept for the next run, which copies its arrays
into those of the same size instead of creating new ones. Why: a new segment's pages are
faulted in and zeroed as the caller first writes them and again as each worker first reads
them; a 2-worker run of sum_squares at ``small`` (a 1.6 MB input, 0.07 ms of work) cost
1.8 ms with a new segment and 0.33 ms with a kept one (``python benchmarks/placement.py``),
and the benchmark suite's nogil processes run on its 800 MB ``large`` input went from 737 ms
to 79 ms. Segments the next
run does not reuse are unlinked as it starts, and workers detach from them before its first
chunk. After a successful run, arrays the caller passed *writable* are copied back from their
segments, because a worker may have written them (mandelbrot's ``out``); read-only arrays are
never copied back. Runners know nothing about kernels, so "writable" is the only generic sign
of an output: pass pure inputs read-only to skip their copy-back.

``pickle``: chunks travel as pickled copies, which is what the comparison wants to show the
cost of. A worker snapshots the writable arrays of its chunk, runs it, and sends back only the
elements that changed (:func:`diff`); the caller applies them (:func:`apply_diff`), so writes
in place reach the caller's arrays as they do with threads.

A new segment's pages are reserved (``posix_fallocate``) before any array is copied, so a
``/dev/shm`` too small for the run (Docker's default is 64 MB) is an ``OSError`` naming the
space needed and free, not a SIGBUS in the middle of the copy (:func:`_create`).

Segments get names ``gilfree-<pid>-<random>``, so a test can tell ours from anyone else's in
``/dev/shm``. A run that fails unlinks all of its segments (:meth:`Placement.close`, after the
workers that might still attach them are dead or idle); a run that succeeds hands them to the
runner (:meth:`Placement.keep`), which unlinks them when the next run does not reuse them or
when it closes. So while a runner is open, at most one run's segments exist.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np

SEGMENT_PREFIX = "gilfree-"


def segment_prefix(pid: int | None = None) -> str:
    """The name prefix of the segments a process creates (``/dev/shm/<prefix>...`` on Linux)."""
    return f"{SEGMENT_PREFIX}{os.getpid() if pid is None else pid}-"


@dataclass(frozen=True)
class ShmRef:
    """What a worker needs to attach one array: segment name, shape, dtype, order, writability."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    order: str
    writable: bool


def _sharable(a: np.ndarray) -> bool:
    return not a.dtype.hasobject


def _size(a: np.ndarray) -> int:
    return max(1, a.nbytes)


#: Where POSIX shared memory lives on Linux (``shm_open`` names are files there).
SHM_DIR = "/dev/shm"


def _create(size: int, needed: int) -> SharedMemory:
    """A new segment of ``size`` bytes whose pages are reserved now, not on first touch.

    Why: a tmpfs (``/dev/shm``) allocates a page when it is first written, and a write to a
    page it has no room for is SIGBUS, which kills the caller in the middle of a copy (Docker
    gives /dev/shm 64 MB). ``posix_fallocate`` on the segment's descriptor reserves the pages
    up front, so a full tmpfs is an ``OSError`` here, before any byte is copied. The segment
    is ``multiprocessing``'s own ``SharedMemory`` (through its ``_fd``, there on POSIX since
    3.8) rather than one made by hand with ``os.open`` + ``mmap``: the resource tracker then
    still unlinks it if the caller is killed, and workers attach it as before. Where there is
    no ``posix_fallocate`` (macOS, Windows) nothing is reserved: neither backs shared memory
    with a size-limited tmpfs. ``needed`` (all the run's new segments) is for the message.
    """
    shm = SharedMemory(name=segment_prefix() + secrets.token_hex(4), create=True, size=size)
    fd = getattr(shm, "_fd", -1)
    if fd < 0 or not hasattr(os, "posix_fallocate"):
        return shm
    try:
        os.posix_fallocate(fd, 0, size)
    except BaseException as exc:
        unlink([shm])
        if isinstance(exc, OSError):
            raise OSError(exc.errno, _full_message(size, needed, exc)) from None
        raise
    return shm


def _full_message(size: int, needed: int, exc: OSError) -> str:
    """One line: what the run needs, what is free, and what to do instead."""
    try:
        st = os.statvfs(SHM_DIR)
        free = f"{_mib(st.f_bavail * st.f_frsize)} of its {_mib(st.f_blocks * st.f_frsize)} are free"
    except OSError:
        free = "its free space is unknown"
    return (
        f"not enough shared memory for the processes runner: this run needs {_mib(needed)} of new "
        f"segments in {SHM_DIR} and {free} (reserving {_mib(size)}: {exc.strerror}); "
        f'use transport="pickle", or give {SHM_DIR} more room (docker run --shm-size=...)'
    )


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def ensure_tracker() -> None:
    """Start multiprocessing's resource tracker in this process before workers are forked.

    Why: a forked worker that attaches a segment registers it with the tracker it inherited.
    Started later, each worker would start its own tracker, which unlinks the segment (with a
    "leaked shared_memory" warning) when that worker exits, while the caller still uses it.
    """
    resource_tracker.ensure_running()


class Placement:
    """One run's chunks with every distinct array moved into shared memory, once.

    ``specs`` are the chunks to send (arrays replaced by :class:`ShmRef`); ``copy_back()``
    copies the segments of writable arrays into the caller's arrays; ``close()`` unlinks every
    segment and is safe to call twice; ``keep()`` hands the segments over for the next run
    instead. ``spare`` are the last run's segments: one of the same size takes an array's
    copy instead of a new segment, and those no array takes are unlinked here; their names
    are in ``dropped``, for the workers to detach. Every new segment's pages are reserved
    before anything is copied (:func:`_create`): a full ``/dev/shm`` is an ``OSError`` that
    says how much the run needs and how much is free, and leaves no segment behind. An
    unlinked segment keeps its pages while a worker maps it, so when the room runs out,
    ``settle(names)`` (if given) is called once to have the workers detach from the unlinked
    ones, and waits until they have, before the reservation is tried again.
    """

    def __init__(
        self,
        chunks: Sequence[Sequence[Any]],
        spare: Sequence[SharedMemory] = (),
        settle: Callable[[list[str]], None] | None = None,
    ) -> None:
        self._segments: list[tuple[SharedMemory, np.ndarray, ShmRef]] = []
        # Three steps, so that a /dev/shm too small for the run is an error before any byte is
        # copied: choose which spare (same size) takes which array and unlink the others, which
        # frees their space; create and reserve every new segment; only then copy.
        by_size: dict[int, list[SharedMemory]] = {}
        for shm in spare:
            by_size.setdefault(shm.size, []).append(shm)
        arrays: dict[int, np.ndarray] = {}
        for chunk in chunks:
            for a in chunk:
                if isinstance(a, np.ndarray) and _sharable(a):
                    arrays.setdefault(id(a), a)
        taken = {key: by_size[_size(a)].pop() for key, a in arrays.items() if by_size.get(_size(a))}
        unused = [shm for same in by_size.values() for shm in same]
        self.dropped = [shm.name for shm in unused]
        refs: dict[int, ShmRef] = {}
        try:
            unlink(unused)
            needed = sum(_size(a) for key, a in arrays.items() if key not in taken)
            for key, a in arrays.items():
                shm = taken.pop(key, None)
                if shm is None:
                    try:
                        shm = _create(_size(a), needed)
                    except OSError as exc:
                        # Unlinked segments still mapped by a worker keep their pages: have the
                        # workers let go of them, and try once more.
                        if exc.errno != errno.ENOSPC or settle is None:
                            raise
                        settle(self.dropped)
                        settle = None
                        shm = _create(_size(a), needed)
                order = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
                refs[key] = ShmRef(shm.name, a.shape, a.dtype, order, bool(a.flags.writeable))
                self._segments.append((shm, a, refs[key]))
            for shm, a, ref in self._segments:
                view = np.ndarray(a.shape, a.dtype, buffer=shm.buf, order=ref.order)
                view[...] = a
                del view  # no export of shm.buf may outlive close()
        except BaseException:
            self.close()
            unlink(list(taken.values()))
            raise
        self.specs = [
            tuple(refs[id(a)] if isinstance(a, np.ndarray) and _sharable(a) else a for a in chunk)
            for chunk in chunks
        ]

    @property
    def names(self) -> list[str]:
        return [ref.name for _, _, ref in self._segments]

    def copy_back(self) -> None:
        """Copy every segment whose array the caller passed writable back into that array."""
        for shm, a, ref in self._segments:
            if ref.writable:
                a[...] = np.ndarray(ref.shape, ref.dtype, buffer=shm.buf, order=ref.order)

    def keep(self) -> list[SharedMemory]:
        """The run's segments, for the next run's ``spare``; this placement no longer owns them."""
        segments, self._segments = self._segments, []
        return [shm for shm, _, _ in segments]

    def close(self) -> None:
        """Unlink every segment of this run (spares no array took are already gone)."""
        segments, self._segments = self._segments, []
        unlink([shm for shm, _, _ in segments])


def unlink(segments: Sequence[SharedMemory]) -> None:
    """Close and unlink each segment; errors are collected so that one never stops the others."""
    first: BaseException | None = None
    for shm in segments:
        for step in (shm.close, shm.unlink):
            try:
                step()
            except FileNotFoundError:
                pass
            except BaseException as exc:  # pragma: no cover - only on a broken /dev/shm
                first = first or exc
    if first is not None:
        raise first


class Attachments:
    """A worker's attached segments, one attachment per segment, kept until ``release()``.

    A segment kept for the next run may hold an array of another shape or dtype there: the
    attachment stays, and only the view is made again.
    """

    def __init__(self) -> None:
        self._segments: dict[str, tuple[SharedMemory, ShmRef, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._segments)

    def get(self, ref: ShmRef) -> np.ndarray:
        hit = self._segments.get(ref.name)
        if hit is None or hit[1] != ref:
            shm = _attach(ref.name) if hit is None else hit[0]
            a = np.ndarray(ref.shape, ref.dtype, buffer=shm.buf, order=ref.order)
            a.flags.writeable = ref.writable
            hit = self._segments[ref.name] = (shm, ref, a)
        return hit[2]

    def release(self, names: Sequence[str] | None = None) -> None:
        """Drop the views of ``names`` (None: all), then close (not unlink: the caller owns
        the names) each of those segments."""
        if names is None:
            names = list(self._segments)
        shms = [hit[0] for hit in (self._segments.pop(n, None) for n in names) if hit is not None]
        for shm in shms:
            # BufferError: a chunk kept a view alive; its mapping goes when that view does.
            with contextlib.suppress(BufferError):
                shm.close()


def _attach(name: str) -> SharedMemory:
    """Attach a worker to the caller's segment without telling the resource tracker.

    Why: the caller that created the segment registered it and unregisters it as it unlinks
    it; that pair, in one process and in order, is all the tracker needs. Before 3.13 every
    attach registers the name as well (3.13 added ``track=False`` for this), and the tracker,
    shared with forked workers, keeps one set of names for all of them: the caller's removal
    then holds only if every worker's registration reached the tracker before it, and a name
    that lands after it stays there, to be reported as "leaked shared_memory" (and unlinked
    once more, though gone) when the tracker exits. Workers attach from one thread, so
    silencing the tracker's ``register`` while this one attach runs touches nothing else.
    """
    if sys.version_info >= (3, 13):
        return SharedMemory(name=name, track=False)  # type: ignore[call-arg]
    real = resource_tracker.register
    resource_tracker.register = _not_registered  # type: ignore[assignment]
    try:
        return SharedMemory(name=name)
    finally:
        resource_tracker.register = real  # type: ignore[assignment]


def _not_registered(name: str, rtype: str) -> None:
    """The resource tracker's ``register`` while a worker attaches (see :func:`_attach`)."""


# -- the pickle transport: send back only what changed ------------------------------------


def _flat_bits(a: np.ndarray) -> np.ndarray:
    """The array's elements in C order as unsigned ints of the same width (bit-exact compare)."""
    flat = np.ascontiguousarray(a).reshape(-1)
    size = flat.dtype.itemsize
    if size in (1, 2, 4, 8):
        return flat.view(f"u{size}")
    return flat.view(np.uint8).reshape(flat.size, size)


def diff(before: np.ndarray, after: np.ndarray) -> tuple[Any, np.ndarray] | None:
    """The elements of ``after`` that differ bit-wise from ``before``, in C order.

    Returns ``None`` (nothing changed), ``(slice(lo, hi), values)`` for one contiguous run
    (a chunk of rows: the usual case), or ``(flat_indices, values)``.
    """
    if after.dtype.hasobject:
        return (slice(0, after.size), np.ascontiguousarray(after).reshape(-1))
    b, a = _flat_bits(before), _flat_bits(after)
    changed = b != a
    if changed.ndim == 2:
        changed = changed.any(axis=1)
    idx = np.flatnonzero(changed)
    if idx.size == 0:
        return None
    values = np.ascontiguousarray(after).reshape(-1)
    lo, hi = int(idx[0]), int(idx[-1]) + 1
    if hi - lo == idx.size:
        return (slice(lo, hi), values[lo:hi].copy())
    return (idx, values[idx])


def apply_diff(target: np.ndarray, where: Any, values: np.ndarray) -> None:
    """Write what :func:`diff` found into the caller's array (C-order flat positions)."""
    if target.flags.c_contiguous:
        target.reshape(-1)[where] = values
    else:
        flat = np.arange(target.size)[where]
        target[np.unravel_index(flat, target.shape)] = values
