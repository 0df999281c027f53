"""The dask runner's cluster plumbing: the embedded LocalCluster (with TLS), the client that
connects to a scheduler elsewhere, and what is checked and repaired between runs. Which chunk
goes where is :mod:`gilfree.runners.dask`'s.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Iterator
from typing import Any

from distributed import Client, LocalCluster, Security

from gilfree.runners._address import TLS_HINT
from gilfree.runners._dask_worker import worker_facts

#: Seconds to wait for the embedded cluster's worker processes to register. Why so long: each
#: is a fresh interpreter that imports NumPy and Dask, which takes seconds on a loaded machine.
LOCAL_START_TIMEOUT_S = 60.0
#: Seconds to wait for Dask's nanny to replace an embedded worker process that died. Why 20:
#: a replacement is a fresh interpreter too, and it normally registers in one to three.
LOCAL_RECOVER_S = 20.0


@contextlib.contextmanager
def quiet_dask_logs(level: int = logging.ERROR) -> Iterator[None]:
    """Dask's console log handlers at ``level`` for a while.

    Why: a LocalCluster quiets them while it lives and restores them as it closes, so when
    two runners' clusters overlap, the second one's closing chatter (INFO lines) reaches the
    terminal.
    """
    handlers = [h for h in logging.getLogger("distributed").handlers if isinstance(h, logging.StreamHandler)]
    old = [h.level for h in handlers]
    for h in handlers:
        h.setLevel(max(h.level, level))
    try:
        yield
    finally:
        for h, lvl in zip(handlers, old, strict=True):
            h.setLevel(lvl)


def tls_security(address: str, security: Security | None) -> Security:
    """The client's credentials for a ``tls://`` scheduler: ``security``, or Dask's configuration;
    a ``ValueError`` saying where to put them when there are none."""
    security = Security() if security is None else security  # Security() reads Dask's configuration
    try:
        context = security.get_connection_args("client").get("ssl_context")
    except (OSError, ValueError) as exc:  # a configured file that is not there or not a certificate
        raise ValueError(f"scheduler={address!r}: the TLS credentials cannot be loaded ({exc})") from None
    if context is None:
        raise ValueError(f"scheduler={address!r}: {TLS_HINT}")
    return security


def temporary_security() -> Security:
    """Credentials made for one embedded cluster: a self-signed certificate that lives in memory."""
    try:
        return Security.temporary()
    except ImportError:
        raise ImportError(
            "the dask runner's embedded cluster uses TLS with temporary credentials, which needs "
            'the cryptography package: pip install "gilfree[dask]"'
        ) from None


class ClosingClient(Client):
    """A Client that closes itself when it cannot connect.

    Why: a Client whose start fails leaves its IO-loop thread running for as long as the
    exception (whose traceback holds the half-made Client) is alive.
    """

    def start(self, **kwargs: Any) -> None:
        try:
            super().start(**kwargs)
        except BaseException:
            # A failed start has already marked the client closed, so close() would return at
            # once; stop the loop runner (reference-counted, shared loops stay up) as close would.
            with contextlib.suppress(Exception):
                self.close()
                loop_runner = getattr(self, "_loop_runner", None)
                if loop_runner is not None and loop_runner.is_started():
                    loop_runner.stop()
            raise


def start_local(p: int, t: int, security: Security, scratch: str) -> tuple[LocalCluster, Client]:
    """A LocalCluster of ``p`` processes x ``t`` threads on 127.0.0.1, TLS under ``security``,
    with ``scratch`` as its folder, and a client of it, once every worker has registered."""
    cluster = LocalCluster(
        n_workers=p,
        threads_per_worker=t,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
        # No dashboard; the scheduler's small HTTP server (health, metrics) still starts,
        # so give it any free loopback port rather than 8787, which another cluster may hold.
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0", "local_directory": scratch},
        silence_logs=logging.ERROR,
        local_directory=scratch,
        security=security,
    )
    try:
        client = Client(cluster, set_as_default=False, security=security)
    except BaseException:
        with quiet_dask_logs():
            cluster.close()
        raise
    return cluster, client


def connect(address: str, limit: float, security: Security | None, hint: str) -> Client:
    """A client of the scheduler at ``address`` that sees a worker, within ``limit`` seconds in all;
    ``ConnectionError`` or ``TimeoutError`` saying which step failed (``hint``: where the address
    came from)."""
    t0 = time.perf_counter()
    try:
        client = ClosingClient(address, timeout=limit, set_as_default=False, security=security)
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(
            f"could not reach the Dask scheduler at {address} within connect_timeout={limit:g} s "
            f"({type(exc).__name__}: {exc}); start one there with `dask scheduler`, or check the "
            f"address ({hint})"
        ) from exc
    left = max(0.1, limit - (time.perf_counter() - t0))
    try:
        client.wait_for_workers(1, timeout=left)
    except (OSError, TimeoutError) as exc:
        client.close()
        raise TimeoutError(
            f"the Dask scheduler at {address} has no workers after connect_timeout={limit:g} s; "
            f"start some with `dask worker {address} --nthreads N`"
        ) from exc
    return client


def gilfree_versions(client: Client, address: str | None) -> list[str]:
    """The gilfree versions the workers have: every worker must import gilfree."""
    try:
        versions = client.run(worker_facts)
    except Exception as exc:  # most often ModuleNotFoundError while unpickling the call
        raise RuntimeError(
            f"the Dask workers at {address} cannot run gilfree ({type(exc).__name__}: {exc}); "
            "install the same gilfree where each `dask worker` runs"
        ) from exc
    return sorted(set(versions.values()))


def restart(client: Client, addresses: set[str]) -> None:
    """Restart embedded worker processes (through their nannies) that a stuck chunk holds."""
    with contextlib.suppress(Exception):  # one that cannot be restarted is gone: top_up sees to it
        client.restart_workers(sorted(addresses), timeout=LOCAL_START_TIMEOUT_S, raise_for_error=False)


def top_up(client: Client, p: int) -> tuple[dict[str, int], bool]:
    """The workers' threads once the embedded cluster has its ``p`` processes again, and whether
    it had to wait for them; ``RuntimeError`` when Dask does not bring them back."""
    nthreads = dict(client.nthreads())
    if len(nthreads) >= p:
        return nthreads, False
    try:
        client.wait_for_workers(p, timeout=LOCAL_RECOVER_S)
    except (OSError, TimeoutError):
        raise RuntimeError(
            f"the embedded Dask cluster has {len(nthreads)} of its {p} worker processes: Dask did "
            f"not replace the others within {LOCAL_RECOVER_S:g} s; close the runner and start it again"
        ) from None
    return dict(client.nthreads()), True


def close(client: Client | None, cluster: LocalCluster | None, scratch: str | None) -> None:
    """Close the client, and the cluster if there is one; remove the scratch folder."""
    try:
        if client is not None:
            client.close()
    finally:
        try:
            if cluster is not None:
                with quiet_dask_logs():
                    cluster.close()
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
