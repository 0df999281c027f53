"""Command-line words read as values: call arguments for ``probe``, byte counts, number lists.

Library modules take Python values; only the command line turns words into them, here.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any


def parse_call_args(tokens: Sequence[str]) -> tuple[list[Any], dict[str, Any]]:
    """Command-line words -> positional and keyword arguments.

    Each word is read as a Python literal (``0.5``, ``b'x'``, ``[1, 2]``), or kept as a string
    when it is not one; ``name=value`` is a keyword argument (quote a string containing ``=``
    as a literal, ``"'a=b'"``, to pass it positionally).
    """
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for token in tokens:
        name, eq, value = token.partition("=")
        if eq and name.isidentifier():
            kwargs[name] = _literal(value)
        else:
            args.append(_literal(token))
    return args, kwargs


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def parse_bytes(text: str) -> int:
    """``16M`` -> 16777216: a byte count with an optional K, M or G suffix (powers of 1024)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    t = text.strip().upper().removesuffix("B")
    suffix = t[-1:] if t[-1:] in ("K", "M", "G") else ""
    number = t[: len(t) - len(suffix)]
    try:
        n = int(number) * units[suffix]
    except ValueError:
        raise ValueError(f"expected a byte count such as 1000000 or 16M, got {text!r}") from None
    if n < 1:
        raise ValueError(f"the byte count must be at least 1, got {text!r}")
    return n
