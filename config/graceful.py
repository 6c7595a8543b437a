"""Run a command so that a stop signal reaches only its main process. Needs only the stdlib.

honcho stops a process by signalling its whole process group (SIGTERM, then SIGKILL after 5 s).
For `manage.py qcluster` that kills the sentinel and workers before the main process can stop
them, and the main process then waits forever on a lock the dead sentinel held. Here the command
runs in a process group of its own; SIGTERM or SIGINT is passed to its main process alone, which
stops its children in order (about a second), and this wrapper exits with it.

Usage (Procfile): python config/graceful.py .venv/bin/python manage.py qcluster
"""

import os
import signal
import subprocess
import sys
import time

# Past this the command is killed with its group, before honcho's own SIGKILL at 5 s.
STOP_WAIT_SECONDS = 4


def main(argv: list[str]) -> int:
    child = subprocess.Popen(argv, start_new_session=True)  # noqa: S603 (the Procfile's own command)
    deadline = None

    def stop(signum, frame):
        nonlocal deadline
        if deadline is None:
            deadline = time.monotonic() + STOP_WAIT_SECONDS
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        try:
            # A short wait, so a stop signal's deadline is noticed (wait() resumes after a handler).
            return child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() > deadline:
                os.killpg(child.pid, signal.SIGKILL)
                return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
