"""Fixed cost: whole-process wall time of small commands, against ``import torch`` (issue #14).

A user feels a command's start-up as much as its work: ``tuneforge predict`` on one row should
cost little more than ``import torch`` (SPEC §6: within 0.6 s). Every row is a fresh process,
started back to back, ``repeats`` times (median and min shown; the first, cold-cache, round is
run once before timing and not counted). Also shown: how many modules the process imported and
whether it loaded ``torch._dynamo`` (imported by the first torch.optim optimizer), Optuna,
matplotlib, scikit-learn and skops, which the breakdown in ``benchmarks/RESULTS.md`` attributes.

Usage: ``python benchmarks/fixed_cost.py [--repeats 5] [--threads 1]``; the real numbers need an
otherwise idle machine (on a shared one the medians move by seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Writes, at exit, the number of modules and which of the heavy ones this process imported.
PROBE = """
import atexit, json, sys
HEAVY = ("torch._dynamo", "optuna", "matplotlib", "sklearn", "scipy", "skops.io", "pandas")
def _dump():
    with open({out!r}, "w") as f:
        json.dump({{"modules": len(sys.modules), "heavy": [m for m in HEAVY if m in sys.modules]}}, f)
atexit.register(_dump)
"""

COMMANDS = {  # name: (arguments after `python`, target seconds or None)
    "import torch": (["-c", "import torch"], None),
    "tuneforge --help": (["-m", "tuneforge", "--help"], None),
    "tuneforge predict RUN one_row.csv": (["-m", "tuneforge", "predict", "run", "one_row.csv"], 1.5),
    "tuneforge train --set train.epochs=1": (
        ["-m", "tuneforge", "train", "--set", "train.epochs=1", "--out", "train", "-q"], 2.0),
    "tuneforge tune --trials 2 (2 epochs)": (
        ["-m", "tuneforge", "tune", "--trials", "2", "--set", "train.epochs=2",
         "--storage", "sqlite:///tune.db", "--study", "s", "--quiet"], None),
}  # fmt: skip


def run_once(args: list[str], folder: Path, env: dict) -> tuple[float, dict]:
    """Wall seconds of one process run in ``folder``, and what its probe recorded."""
    for old in ("train", "tune.db"):  # each `train`/`tune` starts from nothing, as a user's
        path = folder / old
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    probe = folder / "probe.json"
    code = PROBE.format(out=str(probe))
    # `python -c PROBE -m ...` is not possible; run the module through runpy after the probe.
    if args[0] == "-m":
        code += f"import runpy; sys.argv = {[args[1], *args[2:]]!r}; runpy.run_module({args[1]!r}, run_name='__main__')"
    else:
        code += args[1]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env,
                          capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args}: exit {done.returncode}\n{done.stderr}")
    return seconds, json.loads(probe.read_text())


def setup(folder: Path, env: dict) -> None:
    """A finished digits run to predict from, and one row of digits to predict."""
    subprocess.run([sys.executable, "-m", "tuneforge", "train", "--set", "train.epochs=1",
                    "--out", "run", "-q"], cwd=folder, env=env, check=True,
                   capture_output=True)  # fmt: skip
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame.drop(columns=["target"]).iloc[:1]
    frame.to_csv(folder / "one_row.csv", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each process")
    args = parser.parse_args()
    src = Path(__file__).resolve().parents[1] / "src"
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               PYTHONPATH=os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")])))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        setup(folder, env)
        rows = []
        for name, (command, target) in COMMANDS.items():
            run_once(command, folder, env)  # warm the file cache; not counted
            timed = [run_once(command, folder, env) for _ in range(args.repeats)]
            seconds = [s for s, _ in timed]
            rows.append((name, statistics.median(seconds), min(seconds), target, timed[-1][1]))
    torch_s = rows[0][1]
    print(f"fixed cost, {args.repeats} repeats, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print("| command | median s | min s | − import torch | target | modules | heavy imports |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, median, low, target, probe in rows:
        mark = "" if target is None else f"≤ {target}" + (" ✓" if median <= target else " ✗")
        print(f"| `{name}` | {median:.2f} | {low:.2f} | {median - torch_s:+.2f} | {mark} | "
              f"{probe['modules']} | {', '.join(probe['heavy']) or '—'} |")
    print(f"SPEC §6: predict within 0.6 s of import torch: "
          f"{rows[2][1] - torch_s:.2f} s {'✓' if rows[2][1] - torch_s <= 0.6 else '✗'}")


if __name__ == "__main__":
    main()
