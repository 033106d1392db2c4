"""softgrad benchmarks: speed and memory figures, printed. Never part of `make test`.

python benchmarks/run.py            # everything
python benchmarks/run.py startup    # one group
BENCH_ROWS=100000 python benchmarks/run.py batch   # a quick run on smaller files
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


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
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
    import os

    full_env = {**os.environ, **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", wrapper, json.dumps(cmd)], capture_output=True, text=True, check=True, env=full_env
    )
    wall, rss, rc = out.stdout.split()
    return float(wall), float(rss), int(rc)


def _parse_only(engine: str, path: Path) -> list[str]:
    code = {
        "numpy.loadtxt": f"import numpy as np; np.loadtxt({str(path)!r}, delimiter=',', skiprows=1)",
        "polars": f"import polars as pl; pl.read_csv({str(path)!r}, infer_schema=False, schema_overrides=None).shape",
        "pyarrow.csv": f"import pyarrow.csv as c; c.read_csv({str(path)!r}).num_rows",
    }[engine]
    if engine == "polars":  # every column as float64, as softgrad reads them
        code = (
            f"import polars as pl; h = open({str(path)!r}).readline().strip().split(','); "
            f"pl.read_csv({str(path)!r}, schema=dict.fromkeys(h, pl.Float64)).to_numpy()"
        )
    return [sys.executable, "-c", code]


def _available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def bench_batch() -> None:
    """softgrad batch end to end against the numpy script a user would write and the parse-only floors,
    on the same generated files (17 significant digits, user gradients), in the same run.

    BENCH_ROWS=N sets the rows of the K = 10 file (default 1,000,000; K = 100 gets N/10, K = 1000 N/100);
    BENCH_K=10,100 the cases run (default 10,100,1000); BENCH_REPEAT=N the runs of each command (default 3).
    """
    import os

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from make_data import make_csv

    rows10 = int(os.environ.get("BENCH_ROWS", "1000000"))
    floors = ["numpy.loadtxt"] + [e for e, m in (("polars", "polars"), ("pyarrow.csv", "pyarrow")) if _available(m)]
    fast = _available("polars")
    ks = [int(k) for k in os.environ.get("BENCH_K", "10,100,1000").split(",")]
    repeat = max(1, int(os.environ.get("BENCH_REPEAT", "3")))
    print(
        f"  each command run {repeat} times: the fastest wall time (timings on a shared machine vary by ±20 %),"
        " the largest peak"
    )
    for rows, k in ((rows10, 10), (max(1, rows10 // 10), 100), (max(1, rows10 // 100), 1000)):
        if k not in ks:
            continue
        path = make_csv(rows, k)
        size = path.stat().st_size / 1e6
        print(f"  K = {k:4d}, {rows:9,d} rows, {size:6.1f} MB:")
        print(f"    {'command':44s} {'s':>7s}  {'rows/s':>11s}  {'peak MB':>7s}")
        parse: dict[str, float] = {}

        def line(label: str, cmd: list[str], env: dict[str, str] | None = None, n: int = rows) -> float:
            runs = [run_measured(cmd, env) for _ in range(repeat)]
            wall, rc = min(r[0] for r in runs), max(r[2] for r in runs)
            rss = max(r[1] for r in runs)
            note = "" if rc in (0, 1) else f"  (exit {rc})"
            print(f"    {label:44s} {wall:7.2f}  {n / wall:11,.0f}  {rss:7.0f}{note}")
            return wall

        for engine in floors:
            parse[engine] = line(f"{engine}, parse only", _parse_only(engine, path))
        script = line("numpy script (loadtxt + fused + isclose)", [sys.executable, str(ROOT / "benchmarks" /
                      "user_script.py"), str(path), str(k)])  # fmt: skip
        cmd = [SOFTGRAD, "batch", str(path), "--quiet", "--format", "json"]
        runs = {}
        for label, extra, env in (
            ("softgrad batch (2 workers)", [], None),
            ("softgrad batch --jobs 1", ["--jobs", "1"], None),
            ("softgrad batch, SOFTGRAD_FAST=0 (2 workers)", [], {"SOFTGRAD_FAST": "0"}),
            ("softgrad batch, SOFTGRAD_FAST=0 --jobs 1", ["--jobs", "1"], {"SOFTGRAD_FAST": "0"}),
        ):
            if env is None and not fast:
                continue
            runs[label] = line(label, [*cmd, *extra], env)
        best = min(runs.values())
        fastest = min(parse.values())
        print(
            f"    best softgrad batch: {script / best:.2f}× the numpy script's speed, "
            f"{best / fastest:.2f}× the fastest parse-only time ({min(parse, key=parse.__getitem__)})"
        )


BENCHMARKS: dict[str, Callable[[], None]] = {"startup": bench_startup, "batch": bench_batch}


def main(argv: list[str]) -> None:
    chosen = argv or list(BENCHMARKS)
    for name in chosen:
        print(f"[{name}] {BENCHMARKS[name].__doc__}")
        BENCHMARKS[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
