"""softgrad benchmarks: speed and memory figures, printed. Never part of `make test`.

python benchmarks/run.py            # everything
python benchmarks/run.py startup    # one group
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SOFTGRAD = str(BIN / "softgrad") if (BIN / "softgrad").exists() else "softgrad"


def wall(cmd: list[str], repeat: int = 7) -> tuple[float, float]:
    """(median, min) wall time in seconds of a command."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def bench_startup() -> None:
    """Wall time of the worked example, as a CI script calling softgrad in a loop sees it."""
    example = [SOFTGRAD, "check", "--z", "1.75", "1.75", "--t", "0", "1"]
    baseline = [sys.executable, "-c", "import numpy"]
    for name, cmd in (
        ("python -c 'import numpy' (floor)", baseline),
        ("softgrad check (table, piped)", example),
        ("softgrad check --format json", [*example, "--format", "json"]),
        ("softgrad --help", [SOFTGRAD, "--help"]),
    ):
        med, best = wall(cmd)
        print(f"  {name:40s} median {med * 1000:7.1f} ms   min {best * 1000:7.1f} ms")
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import softgrad.cli"], capture_output=True, text=True, check=False
    ).stderr
    print(f"  rich imported by `import softgrad.cli`: {'yes' if ' rich' in out else 'no'}")


BENCHMARKS: dict[str, Callable[[], None]] = {"startup": bench_startup}


def main(argv: list[str]) -> None:
    chosen = argv or list(BENCHMARKS)
    for name in chosen:
        print(f"[{name}] {BENCHMARKS[name].__doc__}")
        BENCHMARKS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
