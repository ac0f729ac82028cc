"""Processes and the database going away and coming back (issue 2)."""
import os
import resource
import signal
import socket
import subprocess
import time

import requests

from test_users import err
from stack import wait_for


def test_coreapp_killed_then_back_without_webapp_restart(api, stack):
    webapp_pid = stack.procs["webapp"].pid
    assert api.get("/v1/health", apikey=True).status_code == 200
    stack.kill9("coreapp")
    t0 = time.monotonic()
    e = err(api.get("/v1/health", apikey=True), 503, 1011)
    assert time.monotonic() - t0 < 1.5 + 1.0   # within the configured timeout
    assert "coreapp" in e["details"]
    stack.start("coreapp")
    wait_for(lambda: api.get("/v1/health", apikey=True).status_code == 200, 20, "coreapp")
    assert stack.procs["webapp"].pid == webapp_pid and stack.running("webapp")


def test_hung_coreapp_times_out_and_late_work_is_dropped(api, stack):
    pid = stack.procs["coreapp"].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = api.get("/v1/health", apikey=True)
        took = time.monotonic() - t0
        e = err(r, 503, 1011)
        assert "1500 ms" in e["details"]
        assert 1.4 < took < 4
        rid = r.headers["X-Request-Id"]
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: api.get("/v1/health", apikey=True).status_code == 200, 10, "coreapp")
    # the request the client gave up on was not acted upon
    wait_for(lambda: stack.log_contains("coreapp", "rid=%s event=request_expired" % rid), 5,
             "request_expired log")


def test_postgres_restart(api, stack):
    token = api.admin_token()
    admin = api.as_token(token)
    stack.pg_stop()
    try:
        e = err(api.get("/v1/health", apikey=True), 500, 1023)
        assert "database" in e["details"]
        err(api.login_response("admin", stack.admin_password), 500, 1023)
        err(admin.get("/v1/users/admin"), 500, 1023)
        # authentication that needs no database still works during the outage
        err(api.get("/v1/health", headers={"Authorization": "Bearer bad"}), 401, 1005)
        # long enough for both processes' reconnection back-off to reach its 2 s cap
        time.sleep(4)
    finally:
        stack.pg_start()
    # The first requests after the restart connect again at once: none fails, and
    # none waits for the back-off's next attempt.
    assert api.get("/v1/health", apikey=True).status_code == 200
    assert admin.get("/v1/users/admin").status_code == 200
    api.login("admin", stack.admin_password)
    assert stack.log_contains("coreapp", "event=db_up") and stack.log_contains("webapp", "event=db_down")


def test_postgres_down_for_long_fails_fast_and_recovers_on_its_own(api, stack):
    token = api.admin_token()
    admin = api.as_token(token)
    stack.pg_stop()
    try:
        # each request tries to connect (at most one attempt per 100 ms): refused at once
        for _ in range(20):
            t = time.monotonic()
            err(admin.get("/v1/users/admin"), 500, 1023)
            err(api.get("/v1/health", apikey=True), 500, 1023)
            assert time.monotonic() - t < 2
        ups = {name: stack.log_text(name).count("event=db_up") for name in ("webapp", "coreapp")}
    finally:
        stack.pg_start()
    # with no request to ask, the back-off still brings both back by itself
    for name in ("webapp", "coreapp"):
        wait_for(lambda: stack.log_text(name).count("event=db_up") > ups[name], 10,
                 name + " reconnected")
    assert admin.get("/v1/users/admin").status_code == 200


def test_graceful_shutdown_and_restart_keeps_data(api, stack):
    api.admin_token()
    admin = api.as_token(api.admin_token())
    assert admin.post("/v1/users", json={"username": "keeper", "password": "K33p!pass"}).status_code == 201
    for name in ("webapp", "coreapp"):
        assert stack.stop(name) == 0, stack.logs_tail([name])
        assert stack.log_contains(name, "event=shutdown signal=15")
        assert stack.log_contains(name, "event=stopped status=0")
    stack.start("coreapp")
    stack.start("webapp")
    stack.wait_ready()
    keeper = api.as_token()
    keeper.login("keeper", "K33p!pass")
    assert keeper.get("/v1/users/keeper").json()["users"][0]["username"] == "keeper"


def test_cli_help_and_check_config(stack):
    for name in ("webapp", "coreapp"):
        r = subprocess.run([stack.binary(name), "--help"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and "WA_DB_HOSTNAME" in r.stdout and "WA_LOG_LEVEL" in r.stdout
        env = {**os.environ, **stack.env}
        r = subprocess.run([stack.binary(name), "--check-config"], env=env, capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0 and "configuration ok" in r.stdout, r.stderr
        r = subprocess.run([stack.binary(name), "--check-config"],
                           env={**env, "WA_DB_PORT": "99999"}, capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 1 and "WA_DB_PORT" in r.stderr
        r = subprocess.run([stack.binary(name), "--bogus"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 2
    r = subprocess.run([stack.binary("webapp"), "--check-config"],
                       env={**os.environ, **stack.env, "WA_API_KEY": "short"}, capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1 and "WA_API_KEY" in r.stderr
    r = subprocess.run([stack.binary("webapp"), "--check-config"], env={**os.environ, **stack.env},
                       capture_output=True, text=True, timeout=10)
    assert stack.api_key not in r.stdout   # secrets are never printed


def test_systemd_notify_ready_and_watchdog(stack, tmp_path):
    """Type=notify units: READY=1 once serving, WATCHDOG=1 at half WATCHDOG_USEC."""
    import socket
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    stack.stop("coreapp")
    try:
        stack.start("coreapp", env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
        got = [sock.recv(256).decode() for _ in range(3)]
        assert got[0] == "READY=1" and got[1:] == ["WATCHDOG=1", "WATCHDOG=1"]
        stack.stop("coreapp")
        msgs = []
        sock.settimeout(0.5)
        try:
            while True:
                msgs.append(sock.recv(256).decode())
        except socket.timeout:
            pass
        assert "STOPPING=1" in msgs
    finally:
        sock.close()
        if not stack.running("coreapp"):
            stack.start("coreapp")
        stack.wait_ready()


def test_sandbox_speaks_systemd_notify_too(stack, tmp_path):
    """wa-sandbox.service is Type=notify as well."""
    import socket
    if not stack.has("sandbox"):
        return
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    stack.stop("sandbox")
    try:
        stack.start("sandbox", env={"NOTIFY_SOCKET": path})
        assert sock.recv(256).decode() == "READY=1"
        assert stack.stop("sandbox") == 0
        assert sock.recv(256).decode() == "STOPPING=1"
    finally:
        sock.close()
        if not stack.running("sandbox"):
            stack.start("sandbox")
        stack.wait_ready()


def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _raw_connections(stack, n):
    """n TCP connections to the webapp that never start TLS (a slow or hostile client)."""
    return [socket.create_connection(("127.0.0.1", stack.web_port), timeout=5)
            for _ in range(n)]


def _health_within(stack, seconds):
    """GET /v1/health on a new connection, or None if no answer came in time."""
    try:
        return requests.get(stack.url("/v1/health"), timeout=seconds, verify=False,
                            headers={"Authorization": "Apikey " + stack.api_key,
                                     "Connection": "close"}).status_code
    except requests.RequestException:
        return None


def _close_and_restart_webapp(stack, idle):
    """Closes the idle connections and restarts the webapp as the other tests expect it
    (default cap, default descriptor limit)."""
    for s in idle:
        s.close()
    stack.stop("webapp")
    stack.start("webapp")
    wait_for(lambda: _health_within(stack, 2) == 200, 20, "webapp restarted")


def test_connection_cap_makes_clients_wait_instead_of_failing(api, stack):
    """WA_WEB_MAX_CONNECTIONS: at the cap the webapp stops accepting (clients wait in the
    backlog, nothing spins) and takes the next one as soon as a connection closes."""
    stack.stop("webapp")
    stack.start("webapp", env={"WA_WEB_MAX_CONNECTIONS": "8"})
    idle = []
    try:
        wait_for(lambda: _health_within(stack, 2) == 200, 20, "webapp")
        idle = _raw_connections(stack, 8)
        wait_for(lambda: stack.log_contains("webapp", "event=connections_full"), 5, "cap reached")
        pid = stack.procs["webapp"].pid
        cpu = _cpu_seconds(pid)
        assert _health_within(stack, 1.5) is None           # waits in the backlog
        assert _cpu_seconds(pid) - cpu < 0.5
        idle.pop().close()
        assert _health_within(stack, 5) == 200               # the freed slot is taken
        assert stack.log_contains("webapp", "event=accepting_again")
    finally:
        _close_and_restart_webapp(stack, idle)


def test_out_of_descriptors_pauses_accepting_without_spinning(api, stack):
    """accept() failing with EMFILE leaves the connection in the backlog: without a
    pause the listening socket stays readable and the loop spins (libevent logged a
    line each time: 53 MB in 3 s before this was handled)."""
    pid = stack.procs["webapp"].pid
    subprocess.run(["prlimit", "--pid", str(pid), "--nofile=100:100"], check=True)
    idle = []
    try:
        idle = _raw_connections(stack, 150)
        wait_for(lambda: stack.log_contains("webapp", "event=accept_failed"), 5, "EMFILE")
        cpu, size = _cpu_seconds(pid), os.path.getsize(stack.log_path("webapp"))
        time.sleep(2)
        assert _cpu_seconds(pid) - cpu < 0.5
        assert os.path.getsize(stack.log_path("webapp")) - size < 2000
        for s in idle[:120]:
            s.close()
        del idle[:120]
        assert _health_within(stack, 5) == 200               # descriptors back: served again
        assert stack.running("webapp")
    finally:
        _close_and_restart_webapp(stack, idle)


def test_sandbox_control_out_of_descriptors_pauses_without_spinning(api, stack):
    """The sandbox's control API: accept() failing with EMFILE pauses accepting for a
    moment instead of spinning on the still-readable listening socket, and the control
    API answers again once descriptors are back."""
    pid = stack.procs["sandbox"].pid
    host, port = stack.sandbox_control.rsplit(":", 1)
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (100, hard))
    idle = []
    try:
        idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(150)]
        wait_for(lambda: stack.log_contains("sandbox", "event=control_accept_failed"), 5,
                 "EMFILE")
        cpu, size = _cpu_seconds(pid), os.path.getsize(stack.log_path("sandbox"))
        time.sleep(2)
        assert _cpu_seconds(pid) - cpu < 0.5
        assert os.path.getsize(stack.log_path("sandbox")) - size < 2000
    finally:
        for s in idle:
            s.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    assert requests.get(stack.sandbox_url("/health"), timeout=5).status_code == 200
    assert stack.running("sandbox")
