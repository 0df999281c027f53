"""Past one machine: Dask worker processes, with gilfree's nogil kernels on each worker's threads.

Threads alone never leave one machine. Rather than a home-made cluster, this runner hands
chunks to dask.distributed, which already does scheduling, data transfer and recovery from
dead workers. Each Dask worker is a process; inside it, the worker's own thread pool runs
the chunks, and nogil kernels run on those threads in parallel.

Two modes:

- **embedded** (the default): a ``distributed.LocalCluster`` on this machine, started by
  ``start()`` and stopped by ``close()``. Its layout (processes x threads) follows
  :func:`gilfree.runners.layouts.resolve_layout`: ``workers=N`` alone gives 1 process x N
  threads, because nogil kernels scale in threads and one process needs one copy of the
  inputs; ``n_workers=`` and ``threads_per_worker=`` choose another layout (``gil`` and
  ``python`` variants only scale across processes: use ``threads_per_worker=1`` for them).
- **existing cluster**: ``scheduler="tcp://host:port"`` (or ``tls://``), or the
  ``GILFREE_DASK_SCHEDULER`` environment variable, connects a client to a cluster started
  elsewhere with ``dask scheduler`` and ``dask worker``. The runner only closes its client;
  the cluster stays up. ``workers`` becomes the cluster's total of threads once connected (a
  ``workers=`` given here does not limit it: the cluster's `dask worker --nthreads` does). The
  address is checked first (:mod:`gilfree.runners._address`): scheme ``tcp`` or ``tls``, a
  host and a port, or a ``ValueError`` that says what is wrong.

Security: a Dask worker runs whatever the scheduler sends it, so whoever can reach a
scheduler can run code on its workers; and what comes back is unpickled here, so a scheduler
gilfree is pointed at can run code in this process. The embedded cluster listens on 127.0.0.1 only, and
with TLS under temporary credentials made for it (``distributed.Security.temporary()``:
needs ``cryptography``), so no other local user can submit work to it. For a cluster
elsewhere, ``security=`` takes a ``distributed.Security``; without one the client takes its
credentials from Dask's own configuration (``distributed.comm.tls.*``), and a ``tls://``
address without any is a ``ValueError`` here, not a traceback from Dask's comm layer.

How data moves, once per run: every distinct ``numpy.ndarray`` among the chunk arguments is
scattered to all workers (``broadcast=True``, so a worker that dies does not take the only
copy with it), then one ``Client.map`` makes a future per chunk (``pure=False``) whose array
arguments are those scattered copies. Arrays at the ``outputs`` positions that ``map`` is
given (a kernel's ``outputs``, such as mandelbrot's image) are not sent at all: a chunk only
writes its rows of them, so the worker hands it an empty array of the same shape and sends
those rows back. Any other array a chunk writes in place lands in the worker's copy, so the
caller's array would never see it. The worker first runs a chunk with the arrays that are
writable in the caller passed read-only; a chunk that succeeds wrote nothing, and nothing
travels back (every input array). A chunk that needs to write runs again with them writable,
and the worker sends back the rows ``[start, stop)`` (first axis) that changed. ``map``
copies the rows that come back into the caller's arrays. The contract, the same one the
thread runner relies on: a chunk writes only its own rows of an output, and chunks' rows do
not overlap.

Faults (:mod:`gilfree.runners._dask_faults`, and the guards around each chunk in
:mod:`gilfree.runners._dask_worker`):

- a worker that dies mid-run makes Dask reschedule its chunks on the others (a chunk may lose
  ``distributed.scheduler.allowed-failures`` workers, 3 by default). Past that, the
  ``KilledWorker`` raised names the chunk that was running each time a worker died (Dask's
  own names whichever task reached the limit first); chunks that always shared the dying
  process are all named;
- a worker killed while the inputs are scattered: that try is given up as soon as the worker
  leaves the cluster (Dask may wait on it for ever), and the scatter is tried again (3 tries
  in all), then a ``RuntimeError`` says what failed;
- an exception in a chunk is raised in the caller with the chunk's index and the worker's
  traceback in its notes; a ``SystemExit`` or ``KeyboardInterrupt`` from a chunk too, as
  itself, and the worker process lives on; a result that cannot be pickled is that chunk's
  ``TypeError``;
- a ``timeout`` (or Ctrl-C, or any failure) cancels the futures and stops running chunks
  through their cancel token. A chunk still running 0.5 s later ignores its token and holds a
  worker thread: on the embedded cluster that worker process is restarted, so later runs are
  not stuck behind it; on a cluster elsewhere the error names the worker, which is not
  gilfree's to restart;
- a scheduler that cannot be reached raises ``ConnectionError`` naming its address after
  ``connect_timeout`` seconds (10 by default).

Scripts that use the embedded cluster need the ``if __name__ == "__main__":`` guard: Dask
starts its worker processes with multiprocessing's spawn method, which re-imports the main
module.

Where the parts are: what runs in the workers, :mod:`gilfree.runners._dask_worker`; the
cluster and the client (start, connect, TLS, repair between runs),
:mod:`gilfree.runners._dask_cluster`; faults, :mod:`gilfree.runners._dask_faults`; addresses,
:mod:`gilfree.runners._address`.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from queue import Empty, SimpleQueue
from typing import Any

import numpy as np

try:
    import dask
    import distributed
    from distributed import Client, LocalCluster, Security
except ImportError as exc:  # the optional extra is missing
    raise ImportError(
        'the dask runner needs dask.distributed, which is not installed: pip install "gilfree[dask]"'
    ) from exc

from gilfree._cancel import Cancelled
from gilfree.runners import _dask_cluster as cluster
from gilfree.runners import _dask_faults as faults
from gilfree.runners._address import check_scheduler_address, scheme_of
from gilfree.runners._base import ChunkOutcome, Runner, check_timeout
from gilfree.runners._dask_worker import Output, dead_markers, run_chunk
from gilfree.runners.layouts import layouts, parse_layout, parse_layouts, resolve_layout
from gilfree.runners.registry import register

__all__ = [
    "CONNECT_TIMEOUT_S",
    "SCHEDULER_ENV",
    "DaskRunner",
    "layouts",
    "parse_layout",
    "parse_layouts",
    "resolve_layout",
]

#: The environment variable that names a scheduler when ``scheduler=`` is not given.
SCHEDULER_ENV = "GILFREE_DASK_SCHEDULER"
#: Seconds to reach a scheduler and see its first worker, in all. Why 10: a scheduler
#: across a network answers in milliseconds, and a worker that was just started registers
#: within a few seconds; past 10 s a user should be told, not left waiting for Dask's own 30 s.
CONNECT_TIMEOUT_S = 10.0


# -- the caller's side ------------------------------------------------------------------------


def _has_rows(chunk: Sequence[Any], a: Any) -> bool:
    """Whether ``a`` is a writable array of which the chunk's rows ``[start, stop)`` exist."""
    if len(chunk) < 3:
        return False
    start, stop = chunk[-2], chunk[-1]
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, stop)):
        return False
    return (
        isinstance(a, np.ndarray)
        and a.flags.writeable
        and a.ndim >= 1
        and not a.dtype.hasobject
        and 0 <= start <= stop <= a.shape[0]
    )


def _watched(chunk: Sequence[Any], skip: Sequence[int] = ()) -> tuple[int, ...]:
    """Positions of the arguments a chunk may write (but ``skip``): writable arrays with the chunk's rows."""
    return tuple(pos for pos, a in enumerate(chunk[:-2]) if pos not in skip and _has_rows(chunk, a))


def _outputs(chunks: Sequence[Sequence[Any]], outputs: Sequence[int]) -> frozenset[int]:
    """The positions of ``outputs`` that may be sent as ``_Output``: in every chunk a writable
    array with the chunk's rows, and not passed at any other position (it would be read there)."""
    for pos in outputs:
        if isinstance(pos, bool) or not isinstance(pos, int):
            raise TypeError(f"outputs must hold argument positions (int), got {pos!r}")
    wanted = set(outputs)
    for chunk in chunks:
        others = {id(a) for pos, a in enumerate(chunk) if pos not in wanted and isinstance(a, np.ndarray)}
        wanted = {
            pos
            for pos in wanted
            if pos < len(chunk) - 2 and _has_rows(chunk, chunk[pos]) and id(chunk[pos]) not in others
        }
    return frozenset(wanted)


def _layout_text(nthreads: Sequence[int]) -> str:
    """``[2]`` -> ``"1x2"``; ``[1, 1]`` -> ``"2x1"``; uneven workers -> ``"1x2+1x1"``."""
    if not nthreads:
        return "0x0"
    if len(set(nthreads)) == 1:
        return f"{len(nthreads)}x{nthreads[0]}"
    counts: dict[int, int] = {}
    for t in sorted(nthreads, reverse=True):
        counts[t] = counts.get(t, 0) + 1
    return "+".join(f"{p}x{t}" for t, p in counts.items())


def _positive_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}")
    return float(value)


@register
class DaskRunner(Runner):
    """Chunks as Dask futures on a LocalCluster (default) or on the cluster at ``scheduler``.

    Options: ``scheduler`` (an address such as ``"tcp://10.0.0.5:8786"`` or
    ``"tls://10.0.0.5:8786"``; ``"local"`` forces the embedded cluster even when
    ``GILFREE_DASK_SCHEDULER`` is set), ``n_workers`` and ``threads_per_worker`` (the embedded
    cluster's layout), ``connect_timeout`` (seconds to reach a scheduler and see a worker
    there; default 10), ``security`` (a ``distributed.Security``: the embedded cluster's
    credentials instead of temporary ones, or the client's for a scheduler instead of those in
    Dask's configuration).
    """

    name = "dask"
    uses_threads = False
    shares_memory = False

    def __init__(
        self,
        workers: int | None = None,
        *,
        schedule: str = "static",
        scheduler: str | None = None,
        n_workers: int | None = None,
        threads_per_worker: int | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        security: Security | None = None,
    ) -> None:
        super().__init__(workers, schedule=schedule)
        source = "scheduler"
        if scheduler is None:
            scheduler = os.environ.get(SCHEDULER_ENV, "").strip() or None
            source = SCHEDULER_ENV
        if isinstance(scheduler, str) and scheduler.strip() == "local":
            scheduler = None
        if isinstance(scheduler, str) and not scheduler.strip():
            raise ValueError("scheduler must be an address such as 'tcp://host:8786', or 'local'")
        if scheduler is not None:
            try:
                scheduler = check_scheduler_address(scheduler)
            except ValueError as exc:
                raise ValueError(f"{source}={scheduler.strip()!r}: {exc}") from None
        if security is not None and not isinstance(security, Security):
            raise TypeError(f"security must be a distributed.Security or None, not {type(security).__name__}")
        self.scheduler: str | None = scheduler
        self._security = security
        if scheduler is not None and scheme_of(scheduler) == "tls":
            self._security = cluster.tls_security(scheduler, security)
        self.connect_timeout = _positive_seconds("connect_timeout", connect_timeout)
        if self.scheduler is not None:
            if n_workers is not None or threads_per_worker is not None:
                raise ValueError(
                    "n_workers and threads_per_worker set the embedded cluster's layout; a cluster at "
                    "a scheduler address has the layout its `dask worker --nworkers/--nthreads` gave it"
                )
            self.layout: tuple[int, int] | None = None
        else:
            self.layout = resolve_layout(
                self.workers, n_workers, threads_per_worker, explicit=workers is not None
            )
            self.workers = self.layout[0] * self.layout[1]
        self.address: str | None = self.scheduler
        self._client: Client | None = None
        self._cluster: LocalCluster | None = None
        self._scratch: str | None = None
        self._nthreads: dict[str, int] = {}
        self._worker_versions: list[str] = []
        self._finished: list[Any] = []  # the last run's futures, released by the next run
        self._stuck: set[str] = set()  # embedded workers a stuck chunk holds: restarted before the next run
        self._stuck_runs: set[str] = set()  # the runs of those chunks, whose records go with them

    @property
    def mode(self) -> str:
        """``"local"`` (an embedded LocalCluster) or ``"scheduler"`` (a cluster started elsewhere)."""
        return "local" if self.scheduler is None else "scheduler"

    @property
    def _direct(self) -> bool | None:
        """Send and fetch data straight to and from the workers when they are surely reachable.

        Why: on this machine it skips a hop through the scheduler (a 4 MB scatter: about 12
        instead of 19 ms here); a cluster elsewhere may have workers only the scheduler can
        reach, so there Dask decides (``None``).
        """
        return True if self.mode == "local" else None

    @property
    def client(self) -> Client:
        """The ``distributed.Client`` of a started runner (for dashboards and diagnostics)."""
        if self._client is None:
            raise RuntimeError("the dask runner is not started: use it in a `with` block or call start()")
        return self._client

    def __repr__(self) -> str:
        where = self.address or "a LocalCluster"
        layout = _layout_text(list(self._nthreads.values())) if self._nthreads else self._planned()
        return (
            f"<DaskRunner {self.mode} {where} layout={layout} workers={self.workers} "
            f"schedule={self.schedule}>"
        )

    def _planned(self) -> str:
        return "?" if self.layout is None else f"{self.layout[0]}x{self.layout[1]}"

    # -- life cycle ------------------------------------------------------------------------

    def _start(self) -> None:
        try:
            if self.scheduler is None:
                self._start_local()
            else:
                self._connect()
            self._nthreads = dict(self._client.nthreads())  # type: ignore[union-attr]
            self._worker_versions = cluster.gilfree_versions(self.client, self.address)
        except BaseException:
            self._teardown()
            raise
        self.workers = sum(self._nthreads.values())

    def start(self) -> float:
        """Start the cluster (or connect); when started already, first restart the embedded
        worker processes that a stuck chunk holds, and wait for any that died.

        Why: Dask's nanny replaces a worker process that died, within seconds, but not always,
        and runs then go to fewer processes than the layout in their Result says. The harness
        calls ``start`` before each timed run, so none of this is timed.
        """
        with self._life_lock:
            if self.startup_s is not None and self.mode == "local":
                t0 = time.perf_counter()
                restarted = self._restart_stuck()
                self._nthreads, waited = cluster.top_up(self.client, self.layout[0])  # type: ignore[index]
                if restarted or waited:
                    self.startup_s = time.perf_counter() - t0
            return super().start()

    def _restart_stuck(self) -> bool:
        """Restart the embedded worker processes whose threads a chunk that ignores its cancel
        token still holds (found when a run failed): until it ends, that thread takes no more
        chunks, and a run needing it would time out too. Whether any was restarted."""
        stuck, self._stuck = self._stuck, set()
        runs, self._stuck_runs = self._stuck_runs, set()
        if stuck and self._client is not None:
            cluster.restart(self._client, stuck)
            for run_id in runs:  # the files of the chunks that died with them (same machine)
                dead_markers(f"{run_id}-", remove=True)
        return bool(stuck)

    def _start_local(self) -> None:
        p, t = self.layout  # type: ignore[misc]
        # A scratch folder of our own for the scheduler and the workers, removed on close:
        # Dask's default leaves a dask-scratch-space folder in the system's temporary folder.
        self._scratch = tempfile.mkdtemp(prefix="gilfree-dask-")
        # TLS, so that other users of this machine cannot connect and run code on the workers.
        security = self._security if self._security is not None else cluster.temporary_security()
        self._cluster, self._client = cluster.start_local(p, t, security, self._scratch)
        self.address = self._cluster.scheduler_address
        self._client.wait_for_workers(p, timeout=cluster.LOCAL_START_TIMEOUT_S)

    def _connect(self) -> None:
        hint = f"scheduler= option, --scheduler, or {SCHEDULER_ENV}"
        self._client = cluster.connect(self.scheduler, self.connect_timeout, self._security, hint)  # type: ignore[arg-type]

    def _close(self) -> None:
        self._teardown()
        if self.scheduler is not None:
            self.address = self.scheduler

    def _teardown(self) -> None:
        """Close the client, and the cluster if this runner started it; safe after a failed start."""
        client, local, scratch = self._client, self._cluster, self._scratch
        self._client = self._cluster = self._scratch = None
        self._finished, self._stuck, self._stuck_runs = [], set(), set()
        self._nthreads, self._worker_versions = {}, []
        cluster.close(client, local, scratch)

    def describe(self) -> dict[str, Any]:
        if self._client is not None:  # the layout as it is now, not as it was at start
            with contextlib.suppress(Exception):
                self._nthreads = dict(self._client.nthreads())
        nthreads = list(self._nthreads.values())
        return {
            "transport": "scatter",
            "start_method": (
                dask.config.get("distributed.worker.multiprocessing-method") if self.mode == "local" else None
            ),
            "extra": {
                "mode": self.mode,
                "scheduler": self.address,
                "tls": (self.address or "").startswith("tls://"),
                "layout": _layout_text(nthreads) if nthreads else self._planned(),
                "processes": len(nthreads),
                "threads_per_process": nthreads,
                "allowed_failures": dask.config.get("distributed.scheduler.allowed-failures"),
                "distributed": distributed.__version__,
                "worker_gilfree": self._worker_versions,
            },
        }

    # -- work ------------------------------------------------------------------------------

    def map(
        self,
        func: Callable[..., Any],
        chunks: Sequence[Sequence[Any]],
        *,
        timeout: float | None = None,
        cancel: Any = None,
        outputs: Sequence[int] = (),
    ) -> list[ChunkOutcome]:
        timeout = check_timeout(timeout)
        Runner.start(self)  # not self.start(): its check of the workers is one more round trip
        if self._stuck:
            self._restart_stuck()
        if not chunks:
            return []
        client = self.client
        deadline = None if timeout is None else time.perf_counter() + timeout
        run_id = uuid.uuid4().hex
        done: SimpleQueue = SimpleQueue()
        futures: list[Any] = []
        scattered: list[Any] = []
        try:
            # Every distinct array once, to every worker (see the module docstring).
            fresh = _outputs(chunks, outputs)
            arrays: dict[int, np.ndarray] = {}
            for chunk in chunks:
                for pos, a in enumerate(chunk):
                    if isinstance(a, np.ndarray) and pos not in fresh:
                        arrays.setdefault(id(a), a)
            if arrays:
                scattered = faults.scatter(
                    client, list(arrays.values()), direct=self._direct, deadline=deadline, timeout=timeout
                )
            remote = dict(zip(arrays, scattered, strict=True))
            futures = self._submit(func, run_id, chunks, remote, fresh)
            self._release_finished()
            for f in futures:
                f.add_done_callback(done.put)
            index = {f.key: i for i, f in enumerate(futures)}
            for _ in futures:
                f = self._next_done(done, deadline, timeout, cancel)
                # Not "!= finished": a finished chunk whose worker then died is "pending" again
                # while Dask recomputes it, and gather below waits for that.
                if f.status in ("error", "cancelled"):
                    raise faults.chunk_error(f, index[f.key])
            results = client.gather(futures, direct=self._direct)
        except BaseException as exc:
            raise self._after_failure(exc, run_id, futures) from None
        finally:
            for f in scattered:
                f.release()
        outcomes = []
        for chunk, (outcome, written) in zip(chunks, results, strict=True):
            if written:
                start, stop = chunk[-2], chunk[-1]
                for pos, rows in written.items():
                    chunk[pos][start:stop] = rows
            outcomes.append(outcome)
        # Released with the next run's submission, not now: the client sends the scheduler
        # at most one message per 10 ms (Dask's batching), so a release sent now would hold
        # back a next run that starts within 10 ms. The worker keeps only the chunks' results.
        self._finished = futures
        return outcomes

    def _after_failure(self, exc: BaseException, run_id: str, futures: Sequence[Any]) -> BaseException:
        """Stop the failed run's chunks (:func:`_dask_faults.after_failure`); the embedded
        worker processes that stuck chunks hold are restarted before the next run."""
        if self._client is None:
            return exc
        exc, stuck = faults.after_failure(self._client, exc, run_id, futures, local=self.mode == "local")
        if self.mode == "local":
            self._stuck.update(stuck)
            if stuck:
                self._stuck_runs.add(run_id)
        return exc

    def _release_finished(self) -> None:
        finished, self._finished = self._finished, []
        for f in finished:
            f.release()

    def _submit(
        self,
        func: Callable[..., Any],
        run_id: str,
        chunks: Sequence[Sequence[Any]],
        remote: dict[int, Any],
        fresh: frozenset[int],
    ) -> list[Any]:
        """One future per chunk, in as few ``Client.map`` calls as there are chunk lengths.

        Arrays become their scattered copies, and those at the ``fresh`` positions ``Output``s.

        Why not one ``submit`` per chunk: each is its own message to the scheduler, and the
        client sends at most one message per 10 ms (Dask's batching), so the second chunk of a
        run started 5 to 10 ms after the first. One ``map`` is one message.
        """
        by_len: dict[int, list[int]] = {}
        for i, chunk in enumerate(chunks):
            by_len.setdefault(len(chunk), []).append(i)
        futures: list[Any] = [None] * len(chunks)
        for n, idx in by_len.items():
            columns = [[self._remote(chunks[i][j], j in fresh, remote) for i in idx] for j in range(n)]
            watch = [_watched(chunks[i], fresh) for i in idx]
            made = self.client.map(
                run_chunk, [func] * len(idx), [run_id] * len(idx), idx, watch, *columns,
                key=[faults.chunk_key(i, run_id) for i in idx], pure=False,
            )  # fmt: skip
            for i, f in zip(idx, made, strict=True):
                futures[i] = f
        return futures

    @staticmethod
    def _remote(a: Any, fresh: bool, remote: dict[int, Any]) -> Any:
        if not isinstance(a, np.ndarray):
            return a
        return Output(a.shape, a.dtype.str) if fresh else remote[id(a)]

    @staticmethod
    def _next_done(done: SimpleQueue, deadline: float | None, timeout: float | None, cancel: Any) -> Any:
        """The next finished future; waits in short steps so Ctrl-C, cancel and the deadline are seen."""
        while True:
            step = 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.perf_counter()))
            try:
                return done.get(timeout=step)
            except Empty:
                pass
            if cancel is not None and getattr(cancel, "cancelled", False):
                raise Cancelled("stopped by the caller")
            if deadline is not None and time.perf_counter() >= deadline:
                raise TimeoutError(f"the run took longer than timeout={timeout} s")
