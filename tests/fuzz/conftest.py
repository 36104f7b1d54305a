"""Hypothesis profiles for the fuzzer (docs/data.md, "What tuneforge checks in your data").

``ci`` (the default, part of ``make test``): derandomized, so every run tries the same examples,
and bounded to about a minute on two cores. ``nightly`` (``make fuzz``, or
``HYPOTHESIS_PROFILE=nightly pytest tests/fuzz``): random and many more examples.
"""

from __future__ import annotations

import os
import shutil

import pytest
import torch
from fuzz_helpers import invoke
from hypothesis import HealthCheck, settings

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=12, derandomize=True, deadline=None,
                          suppress_health_check=_SLOW_OK, print_blob=True)  # fmt: skip
settings.register_profile("nightly", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None,
                          suppress_health_check=_SLOW_OK, print_blob=True)  # fmt: skip
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def seeded(tmp_path_factory):
    """A folder holding what a user's folder holds after some work: a finished run
    (runs/base), a study with two finished trials (runs/studies.db) and a tiny recipe. Every
    example starts from a copy, so "nothing changed after exit 2" compares real contents."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("seeded")
    from fuzz_helpers import TINY_YAML

    (folder / "tiny.yaml").write_text(TINY_YAML)
    for args in (["train", "tiny.yaml", "--out", "runs/base", "-q"],
                 ["tune", "tiny.yaml", "--trials", "2", "--study", "s", "-q"]):  # fmt: skip
        done = invoke(folder, args)
        assert done.code == 0, done.err
    shutil.rmtree(folder / "runs" / "s", ignore_errors=True)  # best run + report: not needed
    yield folder
    torch.set_num_threads(threads)
