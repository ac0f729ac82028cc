"""The README's first command, from a clean clone: `make run` builds, starts
everything, prints where to connect, stops cleanly on SIGTERM/Ctrl-C, and a
second run keeps the data (issue 2)."""
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time

import requests

from stack import REPO, free_ports

NEW_PASSWORD = "Cl0ne!pass"


def like_a_terminal():
    """Ctrl-C and SIGTERM as a terminal's foreground job has them. A suite
    started in the background by a non-interactive shell (`cmd &`) inherits
    SIGINT ignored, and bash cannot trap a signal ignored on entry: run.sh
    would never hear the Ctrl-C this test sends."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def start(clone, env):
    p = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=clone, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True, preexec_fn=like_a_terminal)
    out, deadline = "", time.monotonic() + 90
    while "Ctrl-C stops everything" not in out:
        assert p.poll() is None, "make run exited:\n" + out
        assert time.monotonic() < deadline, "make run not ready:\n" + out
        if select.select([p.stdout], [], [], 1)[0]:     # raw reads: no hidden buffer
            out += os.read(p.stdout.fileno(), 65536).decode(errors="replace")
    return p, out


def stop(p, sig, clone):
    """On a timeout, says what was still running and what the logs said."""
    os.killpg(p.pid, sig)      # like Ctrl-C in a terminal: the whole foreground group
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        left = subprocess.run(["pgrep", "-af", clone], capture_output=True, text=True).stdout
        said = os.read(p.stdout.fileno(), 65536).decode(errors="replace") \
            if select.select([p.stdout], [], [], 0)[0] else ""
        logs = ""
        for log in ("webapp", "coreapp", "sandbox", "../pg/log/postgresql"):
            path = os.path.join(clone, "var", "log", log + ".log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    logs += "--- %s\n%s" % (log, "".join(f.readlines()[-15:]))
        raise AssertionError("make run did not stop in 60 s\nstill running:\n%s\n"
                             "it said:\n%s\n%s" % (left, said, logs))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)


def assert_all_gone(clone):
    """No process of the clone is left, PostgreSQL's included: scripts/pg.sh
    stop waits for the server's process, not only for its pid file."""
    left = subprocess.run(["pgrep", "-af", clone], capture_output=True, text=True).stdout
    assert left == "", "still running after make run stopped:\n" + left


def test_make_run_from_a_clean_clone():
    # under /tmp itself: the PostgreSQL user must be able to reach var/pg
    top = tempfile.mkdtemp(prefix="wa-clone-", dir="/tmp")
    os.chmod(top, 0o755)
    try:
        run_twice(os.path.join(top, "clone"))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def run_twice(clone):
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", REPO, clone], check=True, timeout=120)
    web, pg, core, sbx, ctl = free_ports(5)
    env = {**os.environ, "MAKEFLAGS": "-j2", "WA_WEB_PORT": str(web), "WA_PG_PORT": str(pg),
           "WA_COREAPP_ENDPOINT": "tcp://127.0.0.1:%d" % core,
           "WA_SANDBOX_ENDPOINT": "tcp://127.0.0.1:%d" % sbx, "WA_SANDBOX_CONTROL": "127.0.0.1:%d" % ctl}
    env.pop("WA_BIN_DIR", None)
    env.pop("WA_API_KEY", None)
    p, out = start(clone, env)
    try:
        assert "https://localhost:%d" % web in out
        assert "admin / secret" in out and "var/log/" in out
        key = open(os.path.join(clone, "var", "api_key")).read().strip()
        assert key in out
        base = "https://127.0.0.1:%d" % web
        h = requests.get(base + "/v1/health", headers={"Authorization": "Apikey " + key},
                         verify=False, timeout=10)
        assert h.status_code == 200 and h.json()["health"]["gateway_status"] == "unregistered"
        r = requests.post(base + "/v1/users/login", auth=("admin", "secret"), verify=False,
                          json={"new_password": NEW_PASSWORD}, timeout=10)
        assert r.status_code == 200, r.text
        for name in ("webapp", "coreapp", "sandbox"):
            assert os.path.exists(os.path.join(clone, "var", "log", name + ".log"))
    finally:
        stop(p, signal.SIGTERM, clone)
    assert not re.search(r"wa-\w+ ignored SIGTERM", out)
    # everything is gone: no process of this clone, PostgreSQL stopped
    assert_all_gone(clone)

    # the second run keeps the data (the changed password), and Ctrl-C stops it
    p, out = start(clone, env)
    try:
        r = requests.post("https://127.0.0.1:%d/v1/users/login" % web, auth=("admin", NEW_PASSWORD),
                          verify=False, timeout=10)
        assert r.status_code == 200, r.text
    finally:
        stop(p, signal.SIGINT, clone)
    assert_all_gone(clone)
