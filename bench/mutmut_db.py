"""pytest plugin for `make mutate`: each mutant's test run starts from a migrated copy of one test DB.

mutmut forks one pytest run per mutant; building the SQLite test database by migrations costs
about 8 s of the 10 s each run takes. The first run (mutmut's clean run) builds the template file
with --reuse-db; every later run copies it to a private file, so parallel runs never share one.
Loaded only by `make mutate` (`-p bench.mutmut_db` in [tool.mutmut] pytest_add_cli_args).
"""

import os
import shutil
from pathlib import Path

TEMPLATE = Path(os.environ.get("MUTMUT_TEMPLATE_DB", "/tmp/mutmut-template.sqlite3"))


def pytest_sessionstart(session):
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        return
    test = db.setdefault("TEST", {})
    if not TEMPLATE.exists():
        test["NAME"] = str(TEMPLATE)  # built here by the first run, kept by --reuse-db
        return
    private = TEMPLATE.with_name(f"{TEMPLATE.stem}-{os.getpid()}.sqlite3")
    for suffix in ("", "-wal"):  # the WAL may still hold pages not yet checkpointed into the file
        if Path(f"{TEMPLATE}{suffix}").exists():
            shutil.copyfile(f"{TEMPLATE}{suffix}", f"{private}{suffix}")
    test["NAME"] = str(private)
    session.config._mutmut_private_db = private


def pytest_sessionfinish(session):
    private = getattr(session.config, "_mutmut_private_db", None)
    if private is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{private}{suffix}").unlink(missing_ok=True)
