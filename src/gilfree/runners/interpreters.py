"""A persistent pool of subinterpreters, each with its own GIL (PEP 684 / PEP 734).

Each worker is one subinterpreter and one thread of the calling interpreter that drives it:
the thread takes a chunk from the pool's queue, binds its arguments into the interpreter's
``__main__`` and runs it there, synchronously. So ``python`` and ``gil`` chunks run at once in
different interpreters, as they do in processes, while the pool lives in one process.

Moving data: arrays (anything with the buffer protocol, NumPy arrays included) reach workers
as ``memoryview`` objects of the caller's buffers: nothing is copied, and outputs are written
in place. Plain values (int, float, str, bytes, None, tuples of them) are shared as they are;
anything else is pickled. Workers never import NumPy, which cannot be imported in a
subinterpreter (numpy issue 24755): a worker imports ``func`` by its module and qualified name
with gilfree's packages made bare (their ``__init__``, which imports NumPy, is not run), so
``func`` must be a module-level function of a module that does not import NumPy itself. Replies
(the value and the chunk's clocks, or its exception with the worker's traceback) come back
pickled through a buffer each worker shares with the caller.

Which API: ``concurrent.interpreters`` on Python 3.14+, the backport ``backports.interpreters``
on 3.12 and 3.13 (``pip install gilfree[interpreters]``). On 3.13 values are bound with the
native ``_interpreters.set___main___attrs``: the backport's ``prepare_main`` pickles them, and
memoryviews do not pickle. Arrays need Python 3.13+, where memoryviews are shareable.

Timeouts and stuck chunks follow :mod:`gilfree.runners.threads` (the policy is
:mod:`gilfree.runners._batch`): on a timeout (or Ctrl-C, or a chunk that raised) the runner
sets each worker's stop flag, which a thread inside that worker turns into the chunk's
``CancelToken`` within a few milliseconds, and gives running chunks ``STOP_GRACE_S``. A chunk
that ignores its token is left running (an interpreter running code cannot be destroyed):
``map`` raises ``TimeoutError`` on time, naming it, and the runner refuses new work until it
ends. ``close()`` destroys every idle interpreter and does not wait for a stuck one: its thread
destroys it when its chunk ends.
"""

from __future__ import annotations

import atexit
import contextlib
import pickle
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gilfree._cancel import Cancelled
from gilfree.runners._base import ChunkOutcome, Runner, attach_origin, check_timeout
from gilfree.runners._batch import Batch, StuckGuard, wait
from gilfree.runners._interp_worker import decode
from gilfree.runners.registry import register

NEEDS = "the interpreters runner needs Python 3.14, or 3.12-3.13 with pip install gilfree[interpreters]"

if sys.version_info < (3, 12):
    raise ImportError(f"{NEEDS} (this is Python {sys.version_info.major}.{sys.version_info.minor})")
if sys.version_info >= (3, 14):
    from concurrent import interpreters as _api
else:
    try:
        from backports import interpreters as _api
    except ImportError as exc:
        raise ImportError(f"{NEEDS} (the backport backports-interpreters is missing: {exc})") from None

try:  # 3.13: the native module takes shareable objects as they are (memoryviews included)
    import _interpreters as _native
except ImportError:  # pragma: no cover - 3.12 (the backport goes through pickle there)
    _native = None

#: How long ``close()`` waits for each worker to destroy its interpreter.
CLOSE_JOIN_S = 2.0
#: How long a worker gets to create its interpreter and import what it needs.
START_TIMEOUT_S = 60.0
#: Bytes each worker shares with the caller for a chunk's pickled reply; a bigger reply is
#: fetched in a second call. Why: a kernel's reply (a number and two clocks) is under 100 bytes;
#: 64 KiB is never touched beyond that, so it costs no memory.
REPLY_BYTES = 1 << 16
#: The longest the caller blocks in one wait when a cancel token is given, so that setting the
#: caller's token reaches the workers within this.
_CANCEL_STEP_S = 0.01
_STEP_S = 0.05
_HEADER = 8
_PACKAGE = Path(__file__).resolve().parents[1]  # gilfree/

_BOOT = """
import sys, types
for _n, _p in _gilfree_bare:
    if _n not in sys.modules:
        _m = types.ModuleType(_n)
        _m.__path__ = [_p]
        _m.__package__ = _n
        sys.modules[_n] = _m
for _p in reversed(_gilfree_path.split("\\0")):
    if _p not in sys.path:
        sys.path.insert(0, _p)
from gilfree.runners._interp_worker import Worker as _W
_gilfree_worker = _W(_gilfree_flag, _gilfree_slot)
del _n, _p, _W, _gilfree_bare, _gilfree_path, _gilfree_flag, _gilfree_slot
"""
#: 3.13 shares a memoryview only with an interpreter that has imported ``_interpreters``.
_PRELUDE = """
try:
    import _interpreters
except ImportError:
    pass
"""
_RUN = "_gilfree_worker.run()"
_LOAD = "_gilfree_worker.load()"
_FETCH = "_gilfree_worker.fetch()"
_CLOSE = "_gilfree_worker.close()"

_OPEN: weakref.WeakSet[InterpreterRunner] = weakref.WeakSet()
#: Held while a worker imports: the first import of a Cython kernel module (typed memoryviews)
#: in two interpreters at the same moment crashed the process now and then here (Cython 3.3.1,
#: CPython 3.13.5: 3 runs in 12 with two interpreters, none in 12 with the imports one at a
#: time). Imports happen once per worker and function, so one at a time costs little.
_IMPORT_LOCK = threading.Lock()
#: Held while an interpreter is created or destroyed. Why: CPython 3.13 now and then fails to
#: create a subinterpreter ("Failed to import encodings module") when other threads create,
#: run or destroy interpreters at the same moment (python/cpython#128381, #131485, #125716).
#: Seen here once in 16 runs of ``gilfree claims --only 11`` (a pool of 2 started just after
#: other pools closed), never in 800 creations from 4 threads: a rare race, not this machine.
_LIFE_LOCK = threading.Lock()
#: Creations tried before a start fails. Why: the race above is transient (the next creation
#: works); a real cause (no memory, a broken install) fails every try and is raised as it is.
CREATE_TRIES = 3


def _create() -> Any:
    """A new interpreter, created under ``_LIFE_LOCK``, retried on CPython's creation race."""
    for attempt in range(1, CREATE_TRIES):
        try:
            with _LIFE_LOCK:
                return _api.create()
        except _api.InterpreterError:
            time.sleep(0.01 * attempt)
    with _LIFE_LOCK:  # the last try: its error is the caller's
        return _api.create()


def _bare_packages() -> tuple[tuple[str, str], ...]:
    """gilfree's packages, to be made bare in a worker: their ``__init__`` imports NumPy."""
    out = [("gilfree", str(_PACKAGE))]
    for init in sorted(_PACKAGE.rglob("__init__.py")):
        rel = init.parent.relative_to(_PACKAGE)
        if rel.parts:
            out.append((".".join(("gilfree", *rel.parts)), str(init.parent)))
    return tuple(out)


def _bind(interp: Any, ns: dict[str, Any]) -> None:
    if _native is not None and sys.version_info < (3, 14):
        _native.set___main___attrs(interp.id, ns, restrict=True)
    else:
        interp.prepare_main(ns)


def func_ref(func: Callable[..., Any]) -> str:
    """``module:qualname`` by which a worker imports ``func``; TypeError if it cannot."""
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}")
    home = getattr(func, "__gilfree_home__", None)  # a kernel's ISA path: its real module
    if isinstance(home, str):
        return home
    module, qualname = getattr(func, "__module__", None), getattr(func, "__qualname__", None)
    why = None
    if not isinstance(module, str) or not isinstance(qualname, str):
        why = "it has no __module__ and __qualname__"
    elif module == "__main__":
        why = "it is defined in __main__, which a subinterpreter does not share"
    elif "<" in qualname:
        why = "it is a lambda or a nested function"
    else:
        obj: Any = sys.modules.get(module)
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if obj is not func:
            why = f"{module}.{qualname} is not that function"
    if why is not None:
        raise TypeError(
            f"func must be a module-level function that a subinterpreter can import by name, got "
            f"{func!r}: {why}"
        )
    return f"{module}:{qualname}"


def shareable_args(chunk: Sequence[Any], i: int) -> tuple[str, tuple[Any, ...]]:
    """A chunk's arguments as a worker receives them: kinds ("v" as is, "p" pickled) and values.

    Buffers (NumPy arrays, bytearray, array.array) become memoryviews of the caller's memory.
    """
    kinds, values = [], []
    for j, a in enumerate(chunk):
        if _has_buffer(a):
            try:
                a = memoryview(a)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"chunk {i}, argument {j}: its buffer cannot be shared ({exc})") from None
            if not _api.is_shareable(a):
                raise TypeError(
                    f"chunk {i}, argument {j}: memoryviews are not shareable between interpreters on "
                    f"Python {sys.version_info.major}.{sys.version_info.minor}; arrays need 3.13+"
                )
            kinds.append("v")
        elif _api.is_shareable(a):
            kinds.append("v")
        else:
            try:
                a = pickle.dumps(a, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                raise TypeError(
                    f"chunk {i}, argument {j} ({type(a).__name__}) is neither shareable nor picklable: {exc}"
                ) from None
            kinds.append("p")
        values.append(a)
    return "".join(kinds), tuple(values)


def _has_buffer(a: object) -> bool:
    if isinstance(a, (bytes, str, int, float, type(None), tuple)):
        return False
    try:
        memoryview(a)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


class _Worker:
    """One subinterpreter, the caller's thread that drives it, and the buffers they share."""

    __slots__ = ("error", "flag", "interp", "loaded", "ready", "reply", "thread")

    def __init__(self) -> None:
        self.flag = bytearray(1)
        self.reply = bytearray(REPLY_BYTES)
        self.interp: Any = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.thread: threading.Thread | None = None
        self.loaded: set[str] = set()  # functions this worker has imported

    def boot(self, bare: tuple, path: str) -> None:
        self.interp = _create()
        self.interp.exec(_PRELUDE)
        _bind(
            self.interp,
            {
                "_gilfree_bare": bare,
                "_gilfree_path": path,
                "_gilfree_flag": memoryview(self.flag),
                "_gilfree_slot": memoryview(self.reply),
            },
        )
        with _IMPORT_LOCK:
            self.interp.exec(_BOOT)

    def call(self, i: int, ref: str, kinds: str, values: tuple, with_cancel: bool) -> ChunkOutcome:
        if ref not in self.loaded:
            with _IMPORT_LOCK:
                _bind(self.interp, {"_gilfree_f": ref})
                self.interp.exec(_LOAD)
            self.loaded.add(ref)
        ns = {"_gilfree_i": i, "_gilfree_f": ref, "_gilfree_k": kinds, "_gilfree_a": values}
        _bind(self.interp, {**ns, "_gilfree_c": with_cancel})
        self.interp.exec(_RUN)
        n = int.from_bytes(self.reply[:_HEADER], "little")
        if _HEADER + n <= len(self.reply):
            data = bytes(self.reply[_HEADER : _HEADER + n])
        else:
            big = bytearray(n)
            _bind(self.interp, {"_gilfree_big": memoryview(big)})
            self.interp.exec(_FETCH)
            data = bytes(big)
        reply = decode(data)
        if reply[0] == "ok":
            return ChunkOutcome(reply[1], reply[2], reply[3])
        raise _remote_error(i, *reply[1:])

    def destroy(self) -> None:
        interp, self.interp = self.interp, None
        if interp is None:
            return
        with contextlib.suppress(Exception):  # a failed boot has no worker object to close
            interp.exec(_CLOSE)
        with _LIFE_LOCK:
            interp.close()


def _remote_error(i: int, exc_bytes: bytes | None, remote_tb: str, summary: str) -> BaseException:
    exc: BaseException | None = None
    if exc_bytes is not None:
        try:
            exc = pickle.loads(exc_bytes)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        exc = RuntimeError(f"chunk {i} raised {summary} (the exception cannot be rebuilt here)")
    return attach_origin(exc, i, remote_tb)


class _Batch(Batch):
    """One ``map`` call: chunk ``i`` runs in a worker's interpreter; a stop sets every worker's flag."""

    __slots__ = ("flags", "prepared", "ref")

    def __init__(self, ref, prepared, token, flags) -> None:
        super().__init__(len(prepared), token)
        self.ref = ref
        self.prepared = prepared
        self.flags = flags  # every worker's stop flag

    def begin(self, worker: _Worker) -> None:
        worker.flag[0] = 0  # reset and set under the lock: a stop is never lost

    def halt(self) -> None:
        for flag in self.flags:
            flag[0] = 1

    def call(self, i: int, worker: _Worker) -> ChunkOutcome:
        kinds, values = self.prepared[i]
        return worker.call(i, self.ref, kinds, values, self.token is not None)


@register
class InterpreterRunner(Runner):
    """``workers`` subinterpreters started once, one driving thread each; chunks go to free ones."""

    name = "interpreters"
    uses_threads = False  # other interpreters: the work cannot be handed to the calling thread
    shares_memory = True

    def __init__(self, workers: int | None = None, *, schedule: str = "static") -> None:
        super().__init__(workers, schedule=schedule)
        self._map_lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {"transport": "memoryview"}

    def _start(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._workers: list[_Worker] = []
        self._stuck = StuckGuard("interpreters", "an interpreter running code cannot be destroyed")
        bare, path = _bare_packages(), "\0".join(p for p in sys.path if isinstance(p, str))
        try:
            for i in range(self.workers):
                w = _Worker()
                w.thread = threading.Thread(
                    target=self._serve, args=(w, bare, path), name=f"gilfree-interp-{i}", daemon=True
                )
                self._workers.append(w)
                w.thread.start()
            deadline = time.perf_counter() + START_TIMEOUT_S
            for w in self._workers:
                if not w.ready.wait(max(0.0, deadline - time.perf_counter())):
                    raise RuntimeError(f"a subinterpreter did not start within {START_TIMEOUT_S:.0f} s")
                if w.error is not None:
                    raise RuntimeError(f"a subinterpreter failed to start: {w.error}") from w.error
        except BaseException:
            self._close()
            raise
        _OPEN.add(self)

    def _serve(self, w: _Worker, bare: tuple, path: str) -> None:
        """A worker thread's life: create its interpreter, run chunks, destroy it."""
        get = self._queue.get
        try:
            try:
                w.boot(bare, path)
            except BaseException as exc:
                w.error = exc
                return
            finally:
                w.ready.set()
            while True:
                job = get()
                if job is None:
                    return
                batch, i = job
                batch.run(i, w)
        finally:
            w.destroy()

    def _close(self) -> None:
        _OPEN.discard(self)
        workers = self._workers
        for _ in workers:
            self._queue.put(None)
        deadline = time.perf_counter() + CLOSE_JOIN_S
        for w in workers:
            if w.thread is not None:
                w.thread.join(max(0.0, deadline - time.perf_counter()))
        # A thread still alive runs a chunk that ignored its token; it destroys its interpreter
        # when that chunk ends.
        self._workers = []

    def interpreter_ids(self) -> list[int]:
        """The ids of the pool's live subinterpreters (empty when it is not started)."""
        return [w.interp.id for w in getattr(self, "_workers", []) if w.interp is not None]

    def map(
        self,
        func: Callable[..., Any],
        chunks: Sequence[Sequence[Any]],
        *,
        timeout: float | None = None,
        cancel: Any = None,
        outputs: Sequence[int] = (),
    ) -> list[ChunkOutcome]:
        ref = func_ref(func)
        if isinstance(chunks, (str, bytes)) or not isinstance(chunks, Sequence):
            raise TypeError(f"chunks must be a sequence of argument tuples, got {type(chunks).__name__}")
        prepared = []
        for i, chunk in enumerate(chunks):
            if isinstance(chunk, (str, bytes)) or not isinstance(chunk, Sequence):
                raise TypeError(f"chunks[{i}] must be a tuple of arguments, got {type(chunk).__name__}")
            prepared.append(shareable_args(chunk, i))
        timeout = check_timeout(timeout)
        # One run at a time: a run's stop flags are every worker's, so two runs at once from two
        # threads would stop each other's chunks. A second caller waits for the first.
        with self._map_lock:
            return self._map(ref, prepared, timeout, cancel)

    def _map(self, ref: str, prepared: list, timeout: float | None, cancel: Any) -> list[ChunkOutcome]:
        self.start()
        self._stuck.check()
        if not prepared:
            return []
        batch = _Batch(ref, prepared, cancel, [w.flag for w in self._workers])
        for i in range(len(prepared)):
            self._queue.put((batch, i))

        def tick() -> None:  # the caller's token reaches the workers through their flags
            if cancel.cancelled and -1 not in batch.errors:
                batch.stop(-1, Cancelled("stopped by the caller's CancelToken"))

        return wait(
            batch,
            self._stuck,
            timeout,
            step=_STEP_S if cancel is None else _CANCEL_STEP_S,
            where="their interpreters, which cannot be destroyed while they run",
            tick=None if cancel is None else tick,
        )


@atexit.register
def _close_open() -> None:
    """Destroy the interpreters of runners left open: CPython warns of, or trips on, live ones."""
    for runner in list(_OPEN):
        runner.close()
