"""``tuneforge dashboard``: optuna-dashboard on loopback, its API answering, a clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is not installed (extra 'dashboard')")


def start(storage: str) -> tuple[subprocess.Popen, str]:
    """Start the command on a free port; return the process and the URL it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "tuneforge", "dashboard", "--storage", storage,
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    line = proc.stdout.readline()  # blocks until the server is bound (or the command died)
    found = re.search(r"http://127\.0\.0\.1:\d+/dashboard/", line)
    if found is None:
        proc.kill()
        pytest.fail(f"no URL printed: {line!r} {proc.stderr.read()}")
    return proc, found.group(0)


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:  # loopback only
        return response.status, response.read()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_dashboard_serves_the_study_on_loopback_and_stops_cleanly(study_url, stop):
    url, name = study_url
    proc, page = start(url)
    try:
        root = page.removesuffix("dashboard/")
        status, body = get(root + "api/studies")
        assert status == 200
        studies = json.loads(body)["study_summaries"]
        assert [s["study_name"] for s in studies] == [name]
        assert get(page)[0] == 200  # the dashboard's own page
        port = int(root.rsplit(":", 1)[1].strip("/"))
    finally:
        proc.send_signal(stop)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err
    assert "dashboard stopped" in err and "Traceback" not in err
    with pytest.raises(OSError):  # the port is closed again
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_a_missing_extra_says_how_to_install_it(study_url):
    url, _ = study_url
    code = ("import sys; sys.modules['optuna_dashboard'] = None; "
            "sys.argv = ['tuneforge', 'dashboard', '--storage', sys.argv[1]]; "
            "from tuneforge.cli import main; main()")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert done.returncode == 1
    assert "pip install 'tuneforge[dashboard]'" in done.stderr and "Traceback" not in done.stderr


def test_a_storage_that_does_not_exist_is_bad_input(tmp_path):
    missing = tmp_path / "none.db"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tuneforge", "dashboard", "--storage",
                           f"sqlite:///{missing}"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "does not exist" in done.stderr
    assert not missing.exists() and time.monotonic() - started < 120
