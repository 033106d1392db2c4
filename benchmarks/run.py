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
        [sys.executable, "-X", "importtime", "-c", "import softgrad.cli.app"],
        capture_output=True,
        text=True,
        check=False,
    ).stderr
    print(f"  rich imported by `import softgrad.cli.app`: {'yes' if ' rich' in out else 'no'}")


DATA = ROOT / "benchmarks" / "data"


def make_file(rows: int, k: int, seed: int = 0) -> Path:
    """A CSV of ``rows`` rows: z (6 significant digits, as logged), one-hot t, g (9 significant digits)."""
    import numpy as np

    from softgrad.core import fused_gradient

    path = DATA / f"rows{rows}_k{k}.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    header = ",".join([f"z{i}" for i in range(k)] + [f"t{i}" for i in range(k)] + [f"g{i}" for i in range(k)])
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as fh:
        fh.write(header + "\n")
        step = max(1, 200_000 // k)
        for start in range(0, rows, step):
            n = min(step, rows - start)
            z = np.array([f"{x:.6g}" for x in rng.normal(0, 3, n * k)], dtype=float).reshape(n, k)
            t = np.eye(k)[rng.integers(0, k, n)]
            g = fused_gradient(z, t)
            np.savetxt(fh, np.hstack([z, t, g]), delimiter=",", fmt=["%.6g"] * k + ["%d"] * k + ["%.9g"] * k)
    tmp.rename(path)
    return path


def run_measured(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB of the command and its worker processes, exit code).

    Each command runs under its own wrapper process, whose RUSAGE_CHILDREN then covers that command
    alone (and the workers it waited for), not every command this script ran before.
    """
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "cmd = json.loads(sys.argv[1])\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
        "wall = time.perf_counter() - t\n"
        "print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, rc)\n"
    )
    import json

    out = subprocess.run([sys.executable, "-c", wrapper, json.dumps(cmd)], capture_output=True, text=True, check=True)
    wall, rss, rc = out.stdout.split()
    return float(wall), float(rss), int(rc)


def bench_batch() -> None:
    """softgrad batch end to end against numpy.loadtxt alone, on the same files, in the same run."""
    for rows, k in ((1_000_000, 10), (100_000, 100), (1_000, 1000)):
        path = make_file(rows, k)
        size = path.stat().st_size / 1e6
        load = [sys.executable, "-c", f"import numpy as np; np.loadtxt({str(path)!r}, delimiter=',', skiprows=1)"]
        lt_wall, lt_rss, _ = run_measured(load)
        print(f"  K = {k:4d}, {rows:9,d} rows, {size:6.1f} MB:")
        speed = rows / lt_wall
        print(f"    numpy.loadtxt alone            {lt_wall:7.2f} s  {speed:11,.0f} rows/s  peak RSS {lt_rss:6.0f} MB")
        for label, extra in (("softgrad batch", []), ("softgrad batch --jobs 1", ["--jobs", "1"])):
            wall, rss, rc = run_measured([SOFTGRAD, "batch", str(path), "--quiet", "--format", "json", *extra])
            print(
                f"    {label:30s} {wall:7.2f} s  {rows / wall:11,.0f} rows/s  peak RSS {rss:6.0f} MB"
                f"  (exit {rc}; {lt_wall / wall:.2f}× loadtxt's speed)"
            )


BENCHMARKS: dict[str, Callable[[], None]] = {"startup": bench_startup, "batch": bench_batch}


def main(argv: list[str]) -> None:
    chosen = argv or list(BENCHMARKS)
    for name in chosen:
        print(f"[{name}] {BENCHMARKS[name].__doc__}")
        BENCHMARKS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
