"""Wall time of data-parallel training: DDP vs local SGD (period 4 and 16) vs one process.

Every cell is a whole ``tuneforge train`` process (torchrun and its ranks included), run in
interleaved rounds (one process, DDP, local SGD H=4, local SGD H=16, then again) so a change in
the machine's load touches every variant alike; the table gives medians. Besides the wall
time it shows the sum of the per-epoch training seconds from ``metrics.jsonl`` (the loop
without start-up, data loading and outputs) and the test accuracy.

Workload: the built-in default recipe (digits, MLP [128, 64], Adam, batch 64) for ``--epochs``
epochs on the CPU, gloo, one thread per rank (torchrun's default).

Usage: ``python benchmarks/local_sgd.py [--repeats 5] [--epochs 20] [--nproc 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {  # name: (processes, --set overrides)
    "one process": (1, []),
    "DDP": (None, []),
    "local SGD, H=4": (None, ["train.distributed.sync=local_sgd", "train.distributed.period=4"]),
    "local SGD, H=16": (None, ["train.distributed.sync=local_sgd", "train.distributed.period=16"]),
}


def run_once(folder: Path, processes: int, overrides: list[str], epochs: int) -> dict:
    """One whole ``tuneforge train`` process: wall seconds, loop seconds, test accuracy."""
    out = folder / f"run-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "tuneforge", "train", "--out", str(out), "-q",
               "--set", f"train.epochs={epochs}", "--set", "train.device=cpu",
               "--set", "logging.report=false"]  # fmt: skip
    for override in overrides:
        command += ["--set", override]
    if processes > 1:
        command += ["--nproc", str(processes)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    started = time.perf_counter()
    subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    return {"wall": wall, "loop": sum(r["seconds"] for r in records),
            "accuracy": summary["metrics"]["test/accuracy"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--nproc", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeats + 1):  # round 0 warms the caches and is not counted
            for name, (processes, overrides) in VARIANTS.items():
                cell = run_once(Path(tmp), processes or args.nproc, overrides, args.epochs)
                if round_:
                    results[name].append(cell)
                print(f"round {round_} {name}: {cell['wall']:.2f} s", file=sys.stderr)
    print(f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; {args.epochs} epochs, {args.nproc} ranks for the "
          f"parallel rows, median of {args.repeats}\n")  # fmt: skip
    one = statistics.median(c["wall"] for c in results["one process"])
    one_loop = statistics.median(c["loop"] for c in results["one process"])
    print("| variant | wall s | vs one process | loop s | loop vs one | test accuracy |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, cells in results.items():
        wall = statistics.median(c["wall"] for c in cells)
        loop = statistics.median(c["loop"] for c in cells)
        accuracy = statistics.median(c["accuracy"] for c in cells)
        print(f"| {name} | {wall:.2f} | {wall / one:.2f}× | {loop:.2f} | {loop / one_loop:.2f}× "
              f"| {accuracy:.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
