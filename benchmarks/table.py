"""The README's Performance table from a pytest-benchmark JSON file.

    gilfree bench -- --benchmark-min-rounds=5 --benchmark-max-time=0 --benchmark-json=bench.json
    python benchmarks/table.py bench.json

One row per contender, one column per kernel: the median time and the speed-up over the
group's serial baseline (gilfree's ``nogil`` run serially), as ``extra_info`` records it.
"""

from __future__ import annotations

import json
import sys

from gilfree.kernels import names


def table(report: dict) -> str:
    cells: dict[str, dict[str, str]] = {}
    for bench in report["benchmarks"]:
        contender = bench["name"].split("[", 1)[1].rstrip("]").split(":", 1)[1]
        speedup = bench["extra_info"].get("speedup")
        ratio = f" ({speedup:.2f}x)" if speedup is not None else ""
        cells.setdefault(contender, {})[bench["group"]] = f"{bench['stats']['median'] * 1e3:.1f} ms{ratio}"
    kernels = [k for k in names() if any(k in row for row in cells.values())]
    lines = [
        "| contender | " + " | ".join(kernels) + " |",
        "| --- | " + " | ".join("---:" for _ in kernels) + " |",
    ]
    for contender, row in cells.items():
        lines.append(f"| `{contender}` | " + " | ".join(row.get(k, "-") for k in kernels) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benchmarks/table.py BENCH.json")
    with open(sys.argv[1]) as f:
        print(table(json.load(f)))
