"""`make run`'s helpers: .env's SITE_URL follows PORT, and the worker stops cleanly under honcho."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config import make_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("SITE_URL=http://127.0.0.1:8000", "SITE_URL=http://127.0.0.1:8101"),
        ("SITE_URL=http://localhost:9000/", "SITE_URL=http://127.0.0.1:8101"),
        ("SITE_URL=", "SITE_URL=http://127.0.0.1:8101"),
        ("SITE_URL=https://backoffice.example.com", "SITE_URL=https://backoffice.example.com"),
    ],
)
def test_a_local_site_url_follows_the_port(tmp_path, before, after):
    env = tmp_path / ".env"
    env.write_text(f"SECRET_KEY=kept\n{before}\nDEBUG=true\n")

    make_env.set_port(env, 8101)

    assert env.read_text() == f"SECRET_KEY=kept\n{after}\nDEBUG=true\n"


def test_a_missing_site_url_is_added(tmp_path):
    env = tmp_path / ".env"
    env.write_text("SECRET_KEY=kept\n")

    make_env.set_port(env, 8101)

    assert env.read_text() == "SECRET_KEY=kept\nSITE_URL=http://127.0.0.1:8101\n"


# A stand-in for qcluster: a main process that stops its child itself on SIGTERM, and says
# whether the child was still there to stop (qcluster hangs when its sentinel was killed first).
CLUSTER = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
def stop(signum, frame):
    time.sleep(0.3)
    if child.poll() is not None:
        print("child killed first", flush=True); sys.exit(1)
    child.terminate(); child.wait(); print("stopped its child", flush=True); sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("running", flush=True)
while True:
    time.sleep(0.1)
"""


def test_graceful_passes_honchos_group_sigterm_to_the_main_process_only(tmp_path):
    log = (tmp_path / "out.log").open("w")
    wrapper = subprocess.Popen(
        [sys.executable, str(ROOT / "config" / "graceful.py"), sys.executable, "-c", CLUSTER],
        stdout=log,
        start_new_session=True,  # as honcho starts it
    )
    deadline = time.monotonic() + 20
    while "running" not in (tmp_path / "out.log").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()

    os.killpg(wrapper.pid, signal.SIGTERM)  # what honcho does on Ctrl-C

    assert wrapper.wait(timeout=10) == 0
    assert time.monotonic() - started < 4  # inside honcho's 5 s, no SIGKILL
    assert "stopped its child" in (tmp_path / "out.log").read_text()
