"""Download the wheels a GPU machine lacks into a folder (``make gpu-wheels``: ``.whl/``).

A lent GPU machine has torch (2.11, Python 3.12, x86-64) and most of the scientific stack, but
not Optuna, pydantic, skops, cmaes and some of what they need; it reaches no package index. The
same versions as this environment's are fetched as Python 3.12 manylinux wheels, each without
its dependencies (those are listed here), for ``benchmarks/gpu_check.sh`` to install.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: What tuneforge needs that the GPU image does not hold (its package list: the device tool's
#: KINDS.md), with their own dependencies that the image lacks.
MISSING = ["optuna", "alembic", "sqlalchemy", "greenlet", "mako", "colorlog", "pydantic",
           "pydantic-core", "annotated-types", "typing-inspection", "skops", "prettytable",
           "wcwidth", "cmaes"]  # fmt: skip
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64"]  # fmt: skip


def main(folder: str = ".whl") -> None:
    Path(folder).mkdir(exist_ok=True)
    pins = []
    for name in MISSING:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:  # e.g. greenlet where SQLAlchemy does not pull it in
            print(f"not installed here, skipped: {name}")
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
               *platforms, "-d", folder, *pins]  # fmt: skip
    subprocess.run(command, check=True)
    print(f"{len(pins)} wheels in {folder}/: carry it to the GPU machine with the tree")


if __name__ == "__main__":
    main(*sys.argv[1:])
