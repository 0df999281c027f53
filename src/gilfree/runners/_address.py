"""Dask scheduler addresses, checked without Dask: the CLI checks ``--scheduler`` with these too.

A scheduler address is ``tcp://HOST:PORT`` or ``tls://HOST:PORT`` (``HOST:PORT`` alone is
``tcp``, as Dask reads it; an IPv6 host goes in brackets, ``tcp://[::1]:8786``). Anything else
is a ``ValueError`` that says what is wrong, before any connection is tried: Dask itself
answers a ``ucx://`` address or a missing TLS configuration with a traceback from deep in its
comm layer, and a bad port with "invalid literal for int()".

Why only ``tcp`` and ``tls``: they are the transports that ship with ``distributed`` and that
gilfree is tested on. ``ucx`` needs the separate ``distributed-ucxx`` package; ``inproc`` only
reaches a scheduler in this very process; ``ws``/``wss`` are untested here.
"""

from __future__ import annotations

import re

SCHEMES = ("tcp", "tls")
#: What to tell a user whose ``tls://`` address has no credentials to go with it.
TLS_HINT = (
    "a tls:// scheduler needs TLS credentials: pass security=distributed.Security(...) to the "
    "runner, or set distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and "
    "distributed.comm.tls.client.key in Dask's configuration (a YAML file in ~/.config/dask, "
    "or DASK_DISTRIBUTED__COMM__TLS__CA_FILE and the like)"
)

_OTHER_SCHEMES = {
    "ucx": "ucx:// needs the distributed-ucxx package, which gilfree does not support",
    "inproc": "inproc:// reaches only a scheduler inside this process",
    "ws": "ws:// (websockets) is not supported by gilfree",
    "wss": "wss:// (websockets) is not supported by gilfree",
}
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+)$")


def check_scheduler_address(address: object) -> str:
    """``address`` as ``scheme://host:port``, or a ``ValueError`` naming what is wrong with it
    (the caller names the address, and where it came from)."""
    if not isinstance(address, str):
        raise TypeError(
            f"scheduler must be an address string such as 'tcp://host:8786', not {type(address).__name__}"
        )
    text = address.strip()
    if not text:
        raise ValueError("scheduler must be an address such as 'tcp://host:8786', or 'local'")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        why = _OTHER_SCHEMES.get(scheme, f"{scheme}:// is not a Dask scheduler address")
        raise ValueError(f"{why}; use tcp://HOST:PORT or tls://HOST:PORT")
    if "/" in rest or "?" in rest or "#" in rest:
        raise ValueError(f"there is a path after the port; give only {scheme}://HOST:PORT")
    host, colon, port = rest.rpartition(":")
    if not colon or not host:
        raise ValueError(f"it needs a host and a port, e.g. {scheme}://10.0.0.5:8786")
    if host.startswith("[") != host.endswith("]") or (":" in host and not host.startswith("[")):
        raise ValueError(f"an IPv6 host goes in brackets, e.g. {scheme}://[::1]:8786")
    if not _HOST.match(host):
        raise ValueError(f"{host!r} is not a host name or IP address")
    if not port.isascii() or not port.isdigit():
        raise ValueError(f"the port must be a number from 1 to 65535, got {port!r}")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"the port must be from 1 to 65535, got {int(port)}")
    return f"{scheme}://{host}:{int(port)}"


def scheme_of(address: str) -> str:
    """``tls`` for ``tls://...``; ``tcp`` for ``tcp://...`` and a bare ``host:port``."""
    scheme, sep, _ = address.strip().partition("://")
    return scheme.lower() if sep else "tcp"


def tls_configured() -> bool | None:
    """Whether Dask's configuration holds the client credentials that a ``tls://`` scheduler
    needs (a CA and a client certificate, as ``distributed.Security()`` reads them); ``None``
    when Dask is not installed, so that there is nothing to read."""
    try:
        import dask.config
    except ImportError:
        return None
    ca = dask.config.get("distributed.comm.tls.ca-file", None)
    cert = dask.config.get("distributed.comm.tls.client.cert", None)
    return bool(ca and cert)
