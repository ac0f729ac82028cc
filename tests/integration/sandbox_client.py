"""Helpers for tests that act through wa-sandbox (spec/SANDBOX.md): its control API,
and a full registration of the stack's coreapp through it.

    from sandbox_client import Sandbox, register, wait_health
    sb = Sandbox(stack)
    register(api, sb)             # certificate, code, verify, health "connected"
"""
import time

import requests


class Sandbox:
    """The control API of the stack's sandbox (plain HTTP on loopback)."""

    def __init__(self, stack):
        self.stack = stack

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        return requests.request(method, self.stack.sandbox_url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, json=body if body is not None else {}, **kw)

    def patch(self, path, body, **kw):
        return self.request("PATCH", path, json=body, **kw)

    def cert(self, cc, phone_number, vname):
        r = self.post("/certs", {"cc": cc, "phone_number": phone_number, "vname": vname})
        assert r.status_code == 201, r.text
        return r.json()["cert"]

    def code(self, number):
        r = self.get("/registrations/" + number)
        assert r.status_code == 200, r.text
        return r.json()["code"]

    def stats(self):
        r = self.get("/stats")
        assert r.status_code == 200, r.text
        return r.json()

    def customer(self, wa_id, name="Customer", on_whatsapp=True):
        r = self.post("/customers", {"wa_id": wa_id, "name": name, "on_whatsapp": on_whatsapp})
        assert r.status_code == 201, r.text
        return r.json()


def health(api, allow_down=False):
    """gateway_status; with allow_down, None while the coreapp can't answer (it is
    restarting: 503, or its database connection is not up yet: 500/1023)."""
    r = api.get("/v1/health", apikey=True)
    if allow_down and r.status_code in (500, 503):
        return None
    assert r.status_code == 200, r.text
    return r.json()["health"]["gateway_status"]


def wait_health(api, want, timeout=15):
    """Polls GET /v1/health until gateway_status is want; returns the statuses seen
    (None: the coreapp did not answer, e.g. while it restarts)."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        s = health(api, allow_down=True)
        if not seen or seen[-1] != s:
            seen.append(s)
        if s == want:
            return seen
        assert time.monotonic() < deadline, "gateway_status %s, not %s, after %d s (seen %s)" % (
            s, want, timeout, seen)
        time.sleep(0.05)


def register(api, sb, cc="1", phone_number="6315550100", vname="Acme Inc", pin=None):
    """Registers the number through the real sandbox (admin token needed on api) and
    waits until the gateway is connected. Returns the 202 answer's body."""
    body = {"cc": cc, "phone_number": phone_number, "method": "sms",
            "cert": sb.cert(cc, phone_number, vname)}
    if pin is not None:
        body["pin"] = pin
    r = api.post("/v1/account", json=body)
    assert r.status_code == 202, r.text
    answer = r.json()
    r = api.post("/v1/account/verify", json={"code": sb.code(cc + phone_number)})
    assert r.status_code == 201, r.text
    wait_health(api, "connected")
    return answer
