"""``tuneforge ARGS`` under torchrun with a spy on torch's model averager (not a test module).

torch's ``PeriodicModelAverager`` all-reduces the parameters through
``model_averaging.utils.average_parameters_or_parameter_groups`` when a round is due; this
script wraps that function, runs the command, and each rank writes how often it was called to
``$SPY_OUT.rank<RANK>.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from torch.distributed.algorithms.model_averaging import averagers

from tuneforge import cli

rounds = 0
_real = averagers.utils.average_parameters_or_parameter_groups


def _counting(*args, **kwargs):
    global rounds
    rounds += 1
    return _real(*args, **kwargs)


averagers.utils.average_parameters_or_parameter_groups = _counting
if __name__ == "__main__":
    sys.argv = ["tuneforge", *sys.argv[1:]]
    try:
        cli.main()
    finally:
        spy = Path(f"{os.environ['SPY_OUT']}.rank{os.environ['RANK']}.json")
        spy.write_text(json.dumps({"rounds": rounds}))
