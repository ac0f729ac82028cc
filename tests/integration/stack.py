"""A throwaway wa stack for integration tests.

A Stack owns a temp dir with a private PostgreSQL cluster (scripts/pg.sh) and runs
wa-coreapp, wa-webapp and, if it was built, wa-sandbox from $WA_BIN_DIR on free
loopback ports. Each process logs to <tmp>/<name>.log. Everything it starts is
stopped by teardown(), or at interpreter exit if a test run is cut short.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # self-signed cert

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_SH = os.path.join(REPO, "scripts", "pg.sh")
PG_ISREADY = "/usr/lib/postgresql/15/bin/pg_isready"
API_KEY = "test-api-key-0123456789abcdef"
NAMES = ("sandbox", "coreapp", "webapp")  # start order; stopped in reverse
# A log line with one of these means a process hit a sanitizer error (make sanitize).
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

_live = set()  # stacks not yet torn down, for the atexit safety net


def free_ports(n):
    """n distinct loopback TCP ports that nobody listens on right now (the kernel's pick)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:  # all bound at once, so no port is handed out twice
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(fn, timeout=5, what="condition"):
    """Poll fn until it returns something true, and return that; fail after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out after %s s waiting for %s" % (timeout, what)
        time.sleep(0.05)


def _tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)\n"


class Stack:
    def __init__(self, extra_env=None):
        bin_dir = os.environ.get("WA_BIN_DIR", "bin")
        self.bin_dir = os.path.join(REPO, bin_dir)  # a relative WA_BIN_DIR is from the repo
        # 0755 so that the unprivileged PostgreSQL user can reach <tmp>/pg when we are root.
        self.tmp = tempfile.mkdtemp(prefix="wa-test-", dir="/tmp")
        os.chmod(self.tmp, 0o755)
        self.pg_dir = os.path.join(self.tmp, "pg")
        self.pg_port, self.web_port, core_port, sandbox_port, control_port = free_ports(5)
        self.sandbox_control = "127.0.0.1:%d" % control_port
        self.api_key = API_KEY
        self.env = {  # what every process gets, like scripts/run.sh; tests may edit it
            "WA_DB_HOSTNAME": "127.0.0.1",
            "WA_DB_PORT": str(self.pg_port),
            "WA_DB_USERNAME": "wa",
            "WA_WEB_HOST": "127.0.0.1",
            "WA_WEB_PORT": str(self.web_port),
            "WA_COREAPP_ENDPOINT": "tcp://127.0.0.1:%d" % core_port,
            "WA_SANDBOX_ENDPOINT": "tcp://127.0.0.1:%d" % sandbox_port,
            "WA_SANDBOX_CONTROL": self.sandbox_control,
            "WA_SANDBOX_STATE_DIR": os.path.join(self.tmp, "sandbox"),
            "WA_MEDIA_DIR": os.path.join(self.tmp, "media"),
            "WA_API_KEY": self.api_key,
            "WA_COREAPP_TIMEOUT_MS": "1500",
            "WA_WEB_PASSWORD_ITERATIONS": "1000",  # fast logins in tests
            "WA_LOG_LEVEL": "debug",
        }
        self.env.update(extra_env or {})
        os.makedirs(self.env["WA_SANDBOX_STATE_DIR"], exist_ok=True)
        os.makedirs(self.env["WA_MEDIA_DIR"], exist_ok=True)
        self.procs = {}        # name -> Popen of the running (or dead) process
        self.stopped = set()   # names stopped on purpose (stop, kill9): not "dead"
        self.hung = []         # names that ignored SIGTERM for 10 s
        self.admin_password = "secret"  # changed by the api fixture's admin_token()
        _live.add(self)

    # ---- paths -------------------------------------------------------------
    def binary(self, name):
        return os.path.join(self.bin_dir, "wa-" + name)

    def has(self, name):
        return os.access(self.binary(name), os.X_OK)

    def log_path(self, name):
        if name == "pg":
            return os.path.join(self.pg_dir, "log", "postgresql.log")
        return os.path.join(self.tmp, name + ".log")

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.web_port, path)

    def sandbox_url(self, path):
        return "http://%s%s" % (self.sandbox_control, path)

    # ---- processes ---------------------------------------------------------
    def start(self, name, env=None):
        """Start wa-<name> with self.env (plus env); stdout and stderr go to its log."""
        assert not self.running(name), name + " already running"
        self.stopped.discard(name)
        with open(self.log_path(name), "ab") as log:
            self.procs[name] = subprocess.Popen(
                [self.binary(name)], cwd=self.tmp, env={**os.environ, **self.env, **(env or {})},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)  # own process group: killpg reaches its children

    def running(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def _signal(self, name, sig):
        try:
            os.killpg(self.procs[name].pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, name, timeout=10):
        """SIGTERM, wait up to timeout s, then SIGKILL. Returns the exit status."""
        p = self.procs.get(name)
        if p is None:
            return None
        self.stopped.add(name)
        if p.poll() is None:
            self._signal(name, signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.hung.append(name)
                self._signal(name, signal.SIGKILL)
                p.wait(10)
        return p.returncode

    def kill9(self, name):
        self.stopped.add(name)
        self._signal(name, signal.SIGKILL)
        self.procs[name].wait(10)

    def restart(self, name):
        self.stop(name)
        self.start(name)

    def start_all(self):
        self.pg_start()
        for name in NAMES:
            if name != "sandbox" or self.has(name):  # the sandbox is optional
                self.start(name)

    def dead(self):
        """Names of started processes that exited without being stopped."""
        return [n for n, p in self.procs.items() if p.poll() is not None and n not in self.stopped]

    def logs_tail(self, names=None):
        names = names or list(self.procs) + ["pg"]
        return "".join("---- %s.log ----\n%s" % (n, _tail(self.log_path(n))) for n in names)

    def wait_ready(self, timeout=20):
        """Wait until the webapp answers /v1/health (any status) and the sandbox's
        control API answers, or raise with the logs if a process died."""
        checks = [(self.url("/v1/health"), {"Authorization": "Apikey " + self.api_key})]
        if self.running("sandbox"):
            checks.append((self.sandbox_url("/health"), {}))
        deadline = time.monotonic() + timeout
        while checks:
            if self.dead():
                raise RuntimeError("process died: %s\n%s" % (self.dead(), self.logs_tail()))
            if time.monotonic() > deadline:
                raise RuntimeError("stack not ready after %d s\n%s" % (timeout, self.logs_tail()))
            try:
                requests.get(checks[0][0], headers=checks[0][1], verify=False, timeout=2)
                checks.pop(0)
            except requests.RequestException:
                time.sleep(0.1)

    def log_text(self, name):
        try:
            with open(self.log_path(name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_contains(self, name, text):
        return text in self.log_text(name)

    # ---- PostgreSQL --------------------------------------------------------
    def psql(self, sql):
        """Runs sql in the stack's database; the rows, fields separated by "|"."""
        r = subprocess.run(["/usr/bin/psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1",
                            "-p", str(self.pg_port), "-U", "wa", "-d", "wa",
                            "-v", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def _pg(self, *args):
        r = subprocess.run([PG_SH, *args], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("pg.sh %s failed:\n%s%s" % (" ".join(args), r.stdout, r.stderr))

    def pg_wait(self, timeout=30):
        """Wait until the cluster accepts connections."""
        deadline = time.monotonic() + timeout
        while subprocess.run([PG_ISREADY, "-q", "-h", "127.0.0.1", "-p", str(self.pg_port)],
                             timeout=10).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL not ready\n" + _tail(self.log_path("pg")))
            time.sleep(0.1)

    def pg_start(self):
        self._pg("start", self.pg_dir, str(self.pg_port))
        self.pg_wait()

    def pg_stop(self):
        self._pg("stop", self.pg_dir)

    def pg_restart(self):
        self._pg("restart", self.pg_dir)
        self.pg_wait()

    # ---- the end -----------------------------------------------------------
    def kill_all(self):
        """Last resort (atexit): no waiting for goodbyes."""
        for name in self.procs:
            self._signal(name, signal.SIGKILL)
        subprocess.run([PG_SH, "stop", self.pg_dir], capture_output=True, timeout=120)

    def teardown(self):
        """Stop everything, then fail if a process hit a sanitizer error or hung."""
        _live.discard(self)
        try:
            for name in reversed(NAMES):
                try:
                    self.stop(name)
                except Exception:  # keep going: the rest must stop too
                    self._signal(name, signal.SIGKILL)
            problems = ["%s did not exit within 10 s of SIGTERM" % n for n in self.hung]
            if os.path.exists(os.path.join(self.pg_dir, "data")):
                try:
                    self.pg_stop()
                except Exception as e:  # still check the logs below
                    problems.append(str(e))
            for name in self.procs:
                text = self.log_text(name)
                at = min((text.find(m) for m in SANITIZER_MARKERS if m in text), default=-1)
                if at >= 0:  # show the report itself, not just the log's end
                    problems.append("%s hit a sanitizer error:\n%s" % (name, text[at:at + 6000]))
            if problems:
                raise AssertionError("\n".join(problems) + "\n" + (self.logs_tail(self.hung) if self.hung else ""))
        finally:
            if os.environ.get("WA_KEEP_TMP") == "1":
                print("\nWA_KEEP_TMP=1: kept", self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


@atexit.register
def _kill_leftovers():
    for st in list(_live):
        try:
            st.kill_all()
        except Exception:
            pass
