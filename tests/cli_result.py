"""What a CLI call in a test returns (shared by the in-process and subprocess fixtures)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Result:
    code: int
    out: str
    err: str
