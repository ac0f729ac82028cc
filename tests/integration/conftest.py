"""Fixtures for the integration tests.

stack: one running Stack per test file (module scope), torn down at its end.
api:   an Api client for that stack, fresh for every test.
Every test is cut off after TEST_TIMEOUT seconds so that CI never hangs.
"""
import base64
import os
import signal
import sys

import pytest
import requests

sys.path.insert(0, os.path.dirname(__file__))
from stack import Stack  # noqa: E402

TEST_TIMEOUT = 120
ADMIN_PASSWORD = "Adm1n!pass"  # what the first admin login sets


def pytest_configure(config):
    # pytest resets warning filters per test, so urllib3.disable_warnings() is not enough.
    config.addinivalue_line("filterwarnings", "ignore::urllib3.exceptions.InsecureRequestWarning")


LOG_LINES_ON_FAILURE = 200   # per process, from the test's own part of each log


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries what each process logged while it ran
    (its last LOG_LINES_ON_FAILURE lines), so that a failure seen only in CI
    can be explained from CI's output alone."""
    outcome = yield
    rep = outcome.get_result()
    st = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if not isinstance(st, Stack):
        return
    names = list(st.procs) + ["pg"]
    if rep.when == "setup":
        item.log_offsets = {n: _size(st.log_path(n)) for n in names}
    elif rep.failed:
        start = getattr(item, "log_offsets", {})
        for n in names:
            lines = _read_from(st.log_path(n), start.get(n, 0)).splitlines()
            rep.sections.append(("%s log during the test" % n,
                                 "\n".join(lines[-LOG_LINES_ON_FAILURE:])))


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _read_from(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture(autouse=True)
def _test_timeout():
    def expired(signum, frame):
        raise TimeoutError("test ran longer than %d s" % TEST_TIMEOUT)
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def stack():
    st = Stack()
    try:
        st.start_all()
        st.wait_ready()
        yield st
    finally:
        st.teardown()


class Api:
    """requests.Session around the stack's webapp. Methods take a path
    ("/v1/...") and requests' keyword arguments, and return the response;
    apikey=True sends the API key instead of the session's token."""

    def __init__(self, stack, token=None):
        self.stack = stack
        self.session = requests.Session()
        self.session.verify = False  # the webapp's certificate is self-signed
        if token:
            self.session.headers["Authorization"] = "Bearer " + token

    def request(self, method, path, apikey=False, **kw):
        kw.setdefault("timeout", 10)
        kw.setdefault("verify", False)  # per request: REQUESTS_CA_BUNDLE would beat the session's
        if apikey:
            kw["headers"] = {**kw.get("headers", {}), "Authorization": "Apikey " + self.stack.api_key}
        return self.session.request(method, self.stack.url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login_response(self, user, password, new_password=None):
        """POST /v1/users/login with HTTP Basic; the raw response."""
        basic = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        body = {"new_password": new_password} if new_password is not None else None
        return self.post("/v1/users/login", json=body, headers={"Authorization": "Basic " + basic})

    def login(self, user, password, new_password=None):
        """Log in, use the token for this client's later requests, and return it."""
        r = self.login_response(user, password, new_password)
        assert r.status_code == 200, "login %s: %d %s" % (user, r.status_code, r.text)
        token = r.json()["users"][0]["token"]
        self.session.headers["Authorization"] = "Bearer " + token
        return token

    def admin_token(self):
        """Log in as admin (doing the first-login password change once per stack)."""
        if self.stack.admin_password == "secret":
            token = self.login("admin", "secret", new_password=ADMIN_PASSWORD)
            self.stack.admin_password = ADMIN_PASSWORD
            return token
        return self.login("admin", self.stack.admin_password)

    def as_token(self, token=None):
        """A new client for the same stack, with this token (or none)."""
        return Api(self.stack, token)


@pytest.fixture
def api(stack):
    a = Api(stack)
    yield a
    a.session.close()
