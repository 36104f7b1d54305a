"""What a CLI call in a test returns, and how a test starts the CLI in a subprocess (shared by
the fixtures and by tests that start it themselves)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import tuneforge


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli_env() -> dict[str, str]:
    """The inherited environment, with this checkout's source first on the path."""
    env = dict(os.environ)
    src = str(Path(tuneforge.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("TUNEFORGE_DEBUG", None)
    return env


def cli_command(*args) -> list[str]:
    return [sys.executable, "-m", "tuneforge", *map(str, args)]
