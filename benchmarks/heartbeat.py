"""How late the GIL-hold meter's heartbeat is while nogil threads keep every core busy.

    python benchmarks/heartbeat.py [--seconds 1] [--rounds 2]

For each kernel, a heartbeat listens for ``--seconds`` while the thread runner (one thread
per core) runs the kernel's ``nogil`` variant over and over, once with the short time slice
the heartbeat asks Linux for and once without. Nothing holds the GIL, so every late tick is
a wait for a core. Prints the ticks, the p99 and maximum lateness, and how many ticks in 1000
were 3 ms or more late (the issue's bound for nogil).
"""

from __future__ import annotations

import argparse
import time

from gilfree.info import cores
from gilfree.kernels import get
from gilfree.probe import Heartbeat
from gilfree.runners import make_runner

LATE_S = 0.003


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", default="histogram,sum_squares,pairwise")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"{'kernel':<12}{'slice':<8}{'ticks':>6}{'p99 ms':>8}{'max ms':>8}{'>=3 ms per 1000':>17}")
    with make_runner("threads", cores()) as threads:
        for name in args.kernels.split(","):
            kernel = get(name)
            inputs = kernel.make_inputs("default")
            threads.run(kernel, "nogil", inputs, check=False)  # warm
            for _ in range(args.rounds):
                for short in (False, True):
                    with Heartbeat(short_slice=short) as hb:
                        t0 = time.perf_counter()
                        while time.perf_counter() - t0 < args.seconds:
                            threads.run(kernel, "nogil", inputs, check=False)
                    h = hb.result()
                    late = sum(x >= LATE_S for x in hb._lateness) * 1000 / max(h.ticks, 1)
                    label = "short" if h.short_slice else "default"
                    print(f"{name:<12}{label:<8}{h.ticks:>6}{h.p99_ms:>8.2f}{h.max_ms:>8.2f}{late:>17.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
