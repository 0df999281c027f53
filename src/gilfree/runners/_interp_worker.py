"""The side of the ``interpreters`` runner that lives inside each subinterpreter.

Imported there (never in the caller) after the bootstrap in :mod:`gilfree.runners.interpreters`
has made gilfree's packages bare, so it must import nothing heavy: no NumPy, which cannot be
imported in a subinterpreter (numpy issue 24755), and nothing of gilfree but ``_cancel``.

One :class:`Worker` per interpreter. The caller's thread for that interpreter binds a chunk's
arguments into ``__main__`` and runs ``_gilfree_worker.run()`` there; the reply (value and
clocks, or the exception) is pickled into a buffer the caller shares with the worker, so that
nothing crosses between interpreters but memoryviews and a few plain values.

What a worker imports is its start-up: ``pickle`` (5 ms), ``traceback`` and ``typing`` are
imported only when a chunk needs them. A reply of plain values (a kernel's number and its
clocks) goes back with ``marshal``, which is built in; anything else is pickled.
"""

from __future__ import annotations

import importlib
import marshal
import sys
import threading
import time
from _queue import SimpleQueue  # queue.py's imports would add a millisecond to each start

#: How often a running chunk's cancel flag (set by the caller) is read. Why: a stop within a
#: few milliseconds is far inside the runner's STOP_GRACE_S (0.2 s), and each read wakes a
#: thread that takes a core from the kernels on a busy machine. Measured on 2 cores (Zen 5,
#: integrate at n = 2e8 in 2 chunks, through the harness, best of 15): every 1 ms the pool
#: ran 4.6-5.6% behind threads, every 5 ms 1.6-4.0%.
POLL_S = 0.005
_HEADER = 8
#: The first byte of a reply: how its body is encoded.
MARSHAL, PICKLE = b"m", b"p"

try:  # compiled; loads in subinterpreters (own GIL) when built with module state
    from gilfree._cancel import CancelToken
except ImportError:  # pragma: no cover - an old build: pure-Python chunks still get a token

    class CancelToken:  # type: ignore[no-redef]
        def __init__(self) -> None:
            self._set = False

        def cancel(self) -> None:
            self._set = True

        @property
        def cancelled(self) -> bool:
            return self._set


class Worker:
    """Runs chunks in this interpreter; a watcher thread turns the caller's flag into a token."""

    def __init__(self, flag: memoryview, slot: memoryview) -> None:
        self.flag = flag  # one byte of the caller's: non-zero means "stop the running chunk"
        self.slot = slot  # the caller's reply buffer: 8-byte length, then the pickled reply
        self.funcs: dict[str, object] = {}
        self.failed: dict[str, BaseException] = {}  # imports that failed, raised by each run
        self.pending = b""  # a reply too big for the slot, until the caller fetches it
        self._watch: SimpleQueue = SimpleQueue()
        # Not a daemon (subinterpreters refuse daemon threads): close() stops and joins it.
        self._watcher = threading.Thread(target=self._watch_flag, name="gilfree-cancel-watch")
        self._watcher.start()

    def close(self) -> None:
        self._watch.put(None)
        self._watcher.join()

    def _watch_flag(self) -> None:
        while True:
            job = self._watch.get()
            if job is None:
                return
            token, done = job
            while not done.wait(POLL_S):
                if self.flag[0]:
                    token.cancel()
                    break

    def load(self) -> None:
        """Import the function bound in ``__main__`` (the caller holds its import lock). Never
        raises: a failure is kept, and raised by each chunk that needs the function."""
        ref = sys.modules["__main__"].__dict__.pop("_gilfree_f")
        try:
            self.resolve(ref)
        except BaseException as exc:
            self.failed[ref] = exc

    def resolve(self, ref: str):
        if ref in self.failed:
            raise self.failed[ref]
        func = self.funcs.get(ref)
        if func is None:
            module_name, _, qualname = ref.partition(":")
            try:
                obj = importlib.import_module(module_name)
            except Exception as exc:  # ImportError, or SystemError after a failed NumPy import
                if "numpy" in str(exc).lower() or "numpy" in sys.modules:
                    exc.add_note(
                        f"importing {module_name} in a subinterpreter needs NumPy, which cannot be "
                        "imported there (numpy issue 24755); the function must live in a module "
                        "that does not import NumPy at load time"
                    )
                raise
            for part in qualname.split("."):
                obj = getattr(obj, part)
            func = self.funcs[ref] = obj
        return func

    def run(self) -> None:
        """The chunk bound in ``__main__``: run it and put the reply in the slot. Never raises."""
        ns = sys.modules["__main__"].__dict__
        i = ns.pop("_gilfree_i")
        ref, kinds, raw, with_cancel = (
            ns.pop("_gilfree_f"),
            ns.pop("_gilfree_k"),
            ns.pop("_gilfree_a"),
            ns.pop("_gilfree_c"),
        )
        done = threading.Event()
        try:
            func = self.resolve(ref)
            args = list(raw)
            if "p" in kinds:
                import pickle

                args = [pickle.loads(a) if k == "p" else a for k, a in zip(kinds, raw, strict=True)]
            token = None
            if with_cancel:
                token = CancelToken()
                self._watch.put((token, done))
            w0, c0 = time.perf_counter(), time.thread_time()
            value = func(*args) if token is None else func(*args, cancel=token)
            reply: tuple = ("ok", value, time.perf_counter() - w0, time.thread_time() - c0)
        except BaseException as exc:
            reply = _error(exc)
        finally:
            done.set()
            args = raw = None  # let go of the caller's buffers now
        self._send(i, reply)

    def _send(self, i: int, reply: tuple) -> None:
        data = encode(reply)
        if data is None:
            import pickle

            try:
                data = PICKLE + pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                exc.add_note(f"the result of chunk {i} cannot be pickled to go back to the caller")
                data = PICKLE + pickle.dumps(_error(exc), protocol=pickle.HIGHEST_PROTOCOL)
        n = len(data)
        if _HEADER + n <= len(self.slot):
            self.slot[_HEADER : _HEADER + n] = data
        else:
            self.pending = data  # the caller sees the size, and fetches it with a bigger buffer
        self.slot[:_HEADER] = n.to_bytes(_HEADER, "little")

    def fetch(self) -> None:
        """Copy a reply too big for the slot into the buffer the caller bound for it."""
        big = sys.modules["__main__"].__dict__.pop("_gilfree_big")
        big[:] = self.pending
        self.pending = b""


_PLAIN = (int, float, bool, str, bytes, type(None))


def encode(reply: tuple) -> bytes | None:
    """A reply of plain values with ``marshal`` (exact types only: a subclass would come back as
    its base); None for anything else, which is pickled."""
    if reply[0] != "ok" or type(reply[1]) not in _PLAIN:
        return None
    return MARSHAL + marshal.dumps(reply)


def decode(data: bytes) -> tuple:
    """The caller's side of :func:`encode` and of the pickled replies."""
    if data[:1] == MARSHAL:
        return marshal.loads(data[1:])
    import pickle

    return pickle.loads(data[1:])


def _error(exc: BaseException) -> tuple:
    import pickle
    import traceback

    try:
        exc_bytes: bytes | None = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        exc_bytes = None
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ("err", exc_bytes, tb, f"{type(exc).__name__}: {exc}")
