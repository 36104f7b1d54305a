"""``--device`` for every benchmark, and a clock that waits for the device.

CUDA kernels run asynchronously: a timer read right after a launch measures the launch, not the
work. Every benchmark reads its timers through :func:`clock`, which synchronizes first.
"""

from __future__ import annotations

import argparse
import time

import torch


def best_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=best_device(),
                        help="cpu, cuda or cuda:N (default: the best available, %(default)s)")  # fmt: skip


def synchronize(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def clock(device: str | torch.device) -> float:
    """``time.perf_counter()`` once the device has finished what was queued."""
    synchronize(device)
    return time.perf_counter()


def describe(device: str | torch.device) -> str:
    if torch.device(device).type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    return f"cpu, {torch.get_num_threads()} thread(s) (torch {torch.__version__})"
