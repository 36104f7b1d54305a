"""The CI entry point is a script nobody runs locally: check that bash can parse it and that it
runs the README's test command after `set -e` and the move to the repository root."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / ".ci" / "run"


def test_ci_entry_parses_as_bash():
    subprocess.run(["bash", "-n", str(CI)], check=True)


def test_ci_entry_runs_the_readmes_test_command_after_set_e():
    commands = [
        line.strip()
        for line in CI.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    readme_test = re.search(r"^make test\b", (ROOT / "README.md").read_text(), re.M)
    assert readme_test, "the README names `make test`"
    assert "make test" in commands
    assert commands.index("set -euo pipefail") < commands.index("make test")
    assert any(c.startswith("cd ") for c in commands[: commands.index("make test")])
