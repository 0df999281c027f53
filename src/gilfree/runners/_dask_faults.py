"""The dask runner's answers to what goes wrong in a run, on the caller's side.

- :func:`scatter`: the run's inputs to every worker, tried again when a worker leaves the
  cluster during the transfer (Dask then raises a bare ``KeyError`` or ``CommClosedError``, or
  never answers), and a ``RuntimeError`` that says so when it keeps failing.
- :func:`chunk_error`: a failed chunk's exception with its index and the worker's traceback;
  a ``SystemExit`` (or the like) that the worker carried back is raised as itself.
- :func:`stop_run`: stop a run's chunks through their tokens, and wait a moment for those that
  ignore it; the chunks still running, and which chunks were running in each worker process
  that died (the files :mod:`gilfree.runners._dask_worker` leaves).
- :func:`blame`: a ``KilledWorker`` for the chunk that was running each time a worker died,
  not for whichever task reached Dask's limit of deaths first.
- :func:`after_failure`: the three above, in order, for a run that failed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
import traceback
import uuid
from collections.abc import Sequence
from typing import Any

from distributed import Future, KilledWorker

from gilfree.runners._base import attach_origin, has_origin
from gilfree.runners._dask_worker import ChunkExit, dead_markers
from gilfree.runners._dask_worker import stop_run as _stop_on_worker

#: Tries at sending a run's inputs. Why 3: a worker killed during the transfer is noticed by
#: the scheduler within about a second, and the next try goes to the workers that remain.
SCATTER_TRIES = 3
#: How long chunks get to stop after their token is set before they are taken to ignore it.
#: Why 0.5 s: gilfree's kernels read the token about once a millisecond, and each look costs
#: one round trip to every worker (a few milliseconds on this machine).
STOP_GRACE_S = 0.5


#: How long to wait, after a ``KilledWorker`` on a cluster elsewhere, for a worker to answer
#: with the records of the chunks that were running in the ones that died: right then, every
#: worker may be one that its nanny is bringing back (a second or two each).
KILLED_WORKER_PATIENCE_S = 10.0


def chunk_key(index: int, run_id: str) -> str:
    return f"gilfree-chunk-{index}-{run_id}"


class _WorkerLeft(Exception):
    """A worker left the cluster while the inputs were on their way."""


def scatter(client: Any, arrays: list[Any], *, direct: bool | None, deadline: float | None, timeout: Any):
    """``client.scatter(arrays, broadcast=True)``, tried up to :data:`SCATTER_TRIES` times."""
    for attempt in range(1, SCATTER_TRIES + 1):
        try:
            return _scatter_once(client, arrays, direct, deadline)
        except TimeoutError:
            raise TimeoutError(
                f"the run took longer than timeout={timeout} s while its inputs were sent to the workers"
            ) from None
        except Exception as exc:
            if attempt == SCATTER_TRIES:
                size = sum(getattr(a, "nbytes", 0) for a in arrays) / 2**20
                raise RuntimeError(
                    f"could not send the run's inputs ({len(arrays)} array(s), {size:.1f} MiB) to every "
                    f"Dask worker: {SCATTER_TRIES} tries failed, the last with {type(exc).__name__}: "
                    f"{exc} (a worker that left the cluster during the transfer gives a KeyError or "
                    "CommClosedError naming its address)"
                ) from exc
            # Give the scheduler a moment to drop the worker that went away, then try the others.
            pause = 0.5 * attempt
            time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.perf_counter())))
    raise AssertionError("unreachable")  # pragma: no cover


def _scatter_once(client: Any, arrays: list[Any], direct: bool | None, deadline: float | None) -> list[Any]:
    """One try, watched: it is given up as soon as a worker that was there when it began has left
    the cluster, and at ``deadline``.

    Why: when a worker dies during the copy to every worker (Dask's ``replicate``), the
    scheduler may keep trying to reach it, 30 s per try, and never answer; it can also fail
    with a bare ``KeyError``. The try runs as Dask's own coroutine on the client's event loop
    while this thread watches; one given up has its copies released (under names of ours), so
    nothing stays on the workers. Without that coroutine (another ``distributed``), a plain
    ``Client.scatter``.
    """
    loop = getattr(getattr(client, "loop", None), "asyncio_loop", None)
    if loop is None or not hasattr(client, "_scatter"):
        kw = {} if deadline is None else {"timeout": max(0.001, deadline - time.perf_counter())}
        return client.scatter(arrays, broadcast=True, hash=False, direct=direct, **kw)
    names = [f"gilfree-input-{uuid.uuid4().hex}" for _ in arrays]
    before = set(client.nthreads())
    coro = client._scatter(dict(zip(names, arrays, strict=True)), broadcast=True, direct=direct, hash=False)
    job = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        while True:
            try:
                got = job.result(timeout=0.1)
                return [got[n] for n in names]
            except concurrent.futures.TimeoutError:
                pass
            if deadline is not None and time.perf_counter() >= deadline:
                raise TimeoutError
            gone = before - set(client.nthreads())
            if gone:
                raise _WorkerLeft(f"worker(s) {', '.join(sorted(gone))} left the cluster during the transfer")
    except BaseException:
        job.cancel()
        with contextlib.suppress(Exception):  # what reached the workers before it was given up
            for n in names:
                Future(n, client=client).release()
        raise


def chunk_error(future: Any, index: int) -> BaseException:
    """The exception of a failed, cancelled or lost chunk, with its index and the worker's traceback."""
    if future.status == "error":
        exc = future.exception()
        if isinstance(exc, ChunkExit):  # a SystemExit (or the like) from the chunk: raised as itself
            return attach_origin(exc.rebuild(), index, exc.remote_tb)
        tb = future.traceback()
        remote = "".join(traceback.format_exception(type(exc), exc, tb)) if tb is not None else None
        return attach_origin(exc, index, remote)
    try:
        future.result(timeout=0)
    except BaseException as exc:  # a cancelled or lost future raises here
        return attach_origin(exc, index)
    return RuntimeError(f"chunk {index} ended as {future.status!r}")


def stop_run(
    client: Any, run_id: str, futures: Sequence[Any], *, local: bool, patience: float = 0.0
) -> tuple[dict[str, list[int]], set[tuple[int, int]]]:
    """Stop the run's chunks, cancel its futures, and say what is left.

    Returns the chunks still running after :data:`STOP_GRACE_S` (worker address -> chunk
    indices: they ignore their token, and hold a worker thread until they end), and the
    ``(chunk, pid)`` pairs of chunks that were running in a worker process that died. The
    embedded cluster's workers share this machine's temporary folder, so with ``local`` those
    records are read here too: right after a chunk killed its worker, every worker process may
    be one that the nanny is still bringing back. Elsewhere, ``patience`` is how long to wait
    for some worker to answer at all (the records of a ``KilledWorker`` are worth the wait).
    """
    died: set[tuple[int, int]] = set()
    running: dict[str, list[int]] = {}
    try:
        deadline = time.perf_counter() + STOP_GRACE_S
        answer_by = time.perf_counter() + max(STOP_GRACE_S, patience)
        ask: list[str] | None = None  # every worker at first; then those with chunks still running
        told = cancelled = False
        while True:
            try:
                reports = client.run(_stop_on_worker, run_id, workers=ask, on_error="ignore")
            except Exception:  # a worker that went away mid-broadcast: ask again
                reports = None
            if reports:  # {}: no worker at all just now (all restarting)
                told = True
                running = {addr: r["running"] for addr, r in reports.items() if r["running"]}
                died.update(pair for r in reports.values() for pair in map(tuple, r["died_in"]))
            if futures and not cancelled:
                cancelled = True
                with contextlib.suppress(Exception):
                    client.cancel(list(futures))
            now = time.perf_counter()
            if (told and (not running or now >= deadline)) or (not told and now >= answer_by):
                if local:
                    died.update((i, pid) for i, pid, _ in dead_markers(f"{run_id}-", remove=True))
                return running, died
            if told:
                ask = list(running)
            time.sleep(0.05)
    except BaseException:  # Ctrl-C while stopping: cancel at least, and go
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
        raise


def after_failure(
    client: Any, exc: BaseException, run_id: str, futures: Sequence[Any], *, local: bool
) -> tuple[BaseException, set[str]]:
    """Stop a failed run's chunks; the exception to raise (``exc``, a note added when chunks
    ignore their token, or a ``KilledWorker`` for the chunk to blame), and the addresses of
    the workers whose threads such chunks still hold."""
    patience = 0.0 if local or not isinstance(exc, KilledWorker) else KILLED_WORKER_PATIENCE_S
    running, died = stop_run(client, run_id, futures, local=local, patience=patience)
    if isinstance(exc, KilledWorker):
        index = next((i for i, f in enumerate(futures) if f.key == exc.task), -1)
        exc = blame(exc, index, run_id, died)
    if running:
        stuck = sorted({i for chunks in running.values() for i in chunks})
        where = ", ".join(sorted(running))
        if local:
            what = f"the worker process(es) running them ({where}) are restarted before the next run"
        else:
            what = (
                f"they still hold threads of the worker(s) {where}, which gilfree did not start and "
                "does not restart: client.restart_workers([...]) frees them"
            )
        _note(
            exc,
            f"chunk(s) {stuck} ignored their cancel token and were still running {STOP_GRACE_S:g} s "
            f"after the run was stopped; {what}",
        )
    return exc, set(running)


def blame(exc: KilledWorker, index: int, run_id: str, died: set[tuple[int, int]]) -> BaseException:
    """The ``KilledWorker`` of chunk ``index``, turned into one for the chunk that killed the
    workers: the one running in the most of the worker processes that died during the run.

    Why: Dask counts a death against every task the worker held, queued ones too, and fails
    the first task to reach ``allowed-failures``, which is often one that only shared the
    process with the chunk that kills it. When several chunks were running in every process
    that died (threads of one process), none can be told from the others, and the note
    names them all.
    """
    deaths: dict[int, set[int]] = {}
    for i, pid in died:
        deaths.setdefault(i, set()).add(pid)
    if not deaths:  # no record (no writable temporary folder on the workers): Dask's word
        return exc if has_origin(exc) else attach_origin(exc, index)
    most = max(len(pids) for pids in deaths.values())
    suspects = sorted(i for i, pids in deaths.items() if len(pids) == most)
    times = f"{most} time{'s' if most != 1 else ''}"
    # A fresh exception: the one Dask raised names its task, and carries the note naming it.
    named = index if index in suspects else suspects[0]
    fresh = KilledWorker(chunk_key(named, run_id), exc.last_worker, exc.allowed_failures)
    if len(suspects) == 1:
        attach_origin(fresh, named)
        _note(fresh, f"chunk {named} was running in the worker process each of the {times} it died")
    else:
        _note(
            fresh,
            f"raised by one of chunks {', '.join(map(str, suspects))}: each was running in the worker "
            f"process all {times} it died, in threads of that one process, so which of them killed it "
            "cannot be told; run with threads_per_worker=1 to find out",
        )
    return fresh


def _note(exc: BaseException, text: str) -> None:
    if hasattr(exc, "add_note"):
        exc.add_note(text)
    else:  # Python 3.10
        exc.args = (*exc.args, text)
