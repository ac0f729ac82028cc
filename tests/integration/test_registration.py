"""Registration through the real sandbox (spec/API.md §3, §9, §13.7; spec/SANDBOX.md):
certificate, code, verify, health, two-step pin, and the link surviving a sandbox restart."""
import base64
import json

import pytest

from sandbox_client import Sandbox, health, register, wait_health

A = ("1", "6315550100")   # the business's number
B = ("1", "6315550199")   # a second number, to re-register A later


@pytest.fixture
def admin(api):
    api.admin_token()
    return api


@pytest.fixture
def sb(stack):
    return Sandbox(stack)


def error(r, status, code, words=""):
    assert r.status_code == status, r.text
    e = r.json()["errors"][0]
    assert e["code"] == code, r.text
    assert words.lower() in e.get("details", "").lower(), r.text
    return e


def body(sb, number=A, **kw):
    b = {"cc": number[0], "phone_number": number[1], "method": "sms",
         "cert": sb.cert(number[0], number[1], "Acme Inc")}
    b.update(kw)
    return {k: v for k, v in b.items() if v is not None}


def test_unregistered_at_first(admin, sb):
    assert health(admin) == "unregistered"
    assert sb.get("/health").json() == {"status": "ok"}
    r = admin.post("/v1/contacts", json={"contacts": ["+16315551000"]})
    error(r, 503, 1011, "register")
    r = admin.post("/v1/settings/account/two-step", json={"pin": "123456"})
    error(r, 503, 1011, "register")
    r = admin.post("/v1/account/verify", json={"code": "123456"})
    error(r, 400, 1009, "POST /v1/account")


@pytest.mark.parametrize("change, status, code, words", [
    ({"cc": None}, 400, 1008, "cc"),
    ({"phone_number": None}, 400, 1008, "phone_number"),
    ({"method": None}, 400, 1008, "method"),
    ({"cert": None}, 400, 1008, "cert"),
    ({"cc": 1}, 400, 1009, "cc"),
    ({"cc": "1234"}, 400, 1009, "cc"),
    ({"cc": "+1"}, 400, 1009, "cc"),
    ({"cc": ""}, 400, 1009, "cc"),
    ({"phone_number": "631-555-0100"}, 400, 1009, "phone_number"),
    ({"phone_number": 6315550100}, 400, 1009, "phone_number"),
    ({"method": "fax"}, 400, 1009, "method"),
    ({"method": ["sms"]}, 400, 1009, "method"),
    ({"cert": "not base64!"}, 400, 1009, "base64"),
    ({"cert": "abc"}, 400, 1009, "base64"),
    ({"cert": base64.b64encode(b"garbage, not a certificate").decode()}, 403, 1005, "certificate"),
    ({"pin": "12345"}, 400, 1009, "pin"),
    ({"pin": 123456}, 400, 1009, "pin"),
])
def test_register_field_errors(admin, sb, change, status, code, words):
    b = body(sb)
    for k, v in change.items():
        if v is None:
            b.pop(k)
        else:
            b[k] = v
    error(admin.post("/v1/account", json=b), status, code, words)
    assert health(admin) == "unregistered"


def test_register_certificate_errors(admin, sb):
    # a certificate the sandbox issued for another number
    other = sb.cert("1", "6315550777", "Other Co")
    r = admin.post("/v1/account", json=body(sb, cert=other))
    error(r, 403, 1005, "another number")
    # a forged certificate: right shape and number, signature not the sandbox's
    fields = json.loads(base64.b64decode(sb.cert(*A, "Acme Inc")))
    fields["vname"] = "Forged"
    forged = base64.b64encode(json.dumps(fields).encode()).decode()
    r = admin.post("/v1/account", json=body(sb, cert=forged))
    error(r, 403, 1005, "not a certificate issued by the network")
    # no code was sent for any of these
    assert sb.get("/registrations/16315550100").status_code == 404


def test_full_registration(admin, sb, stack):
    r = admin.post("/v1/account", json=body(sb, method="SMS"))   # upper case accepted
    assert r.status_code == 202, r.text
    assert r.json()["account"] == [{"vname": "Acme Inc"}]
    sent = sb.get("/registrations/16315550100").json()
    assert sent["method"] == "sms" and len(sent["code"]) == 6 and sent["code"].isdigit()
    assert health(admin) == "unregistered"
    # wrong code, malformed code, missing code
    wrong = "%06d" % ((int(sent["code"]) + 1) % 1000000)
    error(admin.post("/v1/account/verify", json={"code": wrong}), 400, 1009, "wrong")
    error(admin.post("/v1/account/verify", json={"code": "12ab56"}), 400, 1009, "6-digit")
    error(admin.post("/v1/account/verify", json={"code": 123456}), 400, 1009, "code")
    error(admin.post("/v1/account/verify", json={}), 400, 1008, "code")
    # an expired code
    assert sb.post("/registrations/16315550100/expire").status_code == 200
    error(admin.post("/v1/account/verify", json={"code": sent["code"]}), 400, 1009, "expired")
    # a fresh code by voice works
    r = admin.post("/v1/account", json=body(sb, method="voice"))
    assert r.status_code == 202, r.text
    fresh = sb.get("/registrations/16315550100").json()
    assert fresh["method"] == "voice"
    r = admin.post("/v1/account/verify", json={"code": fresh["code"][:3] + "-" + fresh["code"][3:]})
    assert r.status_code == 201, r.text
    seen = wait_health(admin, "connected")
    assert "disconnected" not in seen, seen
    biz = sb.get("/businesses/16315550100").json()
    biz.pop("profile")              # what the coreapp pushes: test_profile_network.py
    assert biz == {"wa_id": "16315550100", "vname": "Acme Inc", "two_step": False,
                   "connected": True}
    # the same number again: nothing to do
    r = admin.post("/v1/account", json=body(sb))
    assert r.status_code == 201, r.text
    # a used code can't be used again
    error(admin.post("/v1/account/verify", json={"code": fresh["code"]}), 400, 1009)
    assert stack.log_contains("coreapp", "gateway_status status=connected")


@pytest.mark.parametrize("pin, code", [(None, 1008), ("12345", 1009), ("1234567", 1009),
                                       ("12a456", 1009), (123456, 1009), ("", 1009)])
def test_two_step_bad_pin(admin, pin, code):
    r = admin.post("/v1/settings/account/two-step", json={} if pin is None else {"pin": pin})
    error(r, 400, code, "pin")


def test_two_step_set_and_remove(admin, sb):
    r = admin.post("/v1/settings/account/two-step", json={"pin": "123456"})
    assert r.status_code == 200, r.text
    assert sb.get("/businesses/16315550100").json()["two_step"] is True
    r = admin.delete("/v1/settings/account/two-step")
    assert r.status_code == 200, r.text
    assert sb.get("/businesses/16315550100").json()["two_step"] is False
    r = admin.post("/v1/settings/account/two-step", json={"pin": "654321"})
    assert r.status_code == 200, r.text
    assert sb.get("/businesses/16315550100").json()["two_step"] is True


def test_pin_enforced_at_reregistration(admin, sb):
    register(admin, sb, *B, vname="Second Co")
    assert sb.get("/businesses/16315550199").json()["connected"] is True
    # back to A, whose pin is 654321
    error(admin.post("/v1/account", json=body(sb)), 400, 1008, "pin")
    error(admin.post("/v1/account", json=body(sb, pin="111111")), 403, 1005, "pin")
    register(admin, sb, *A, pin="654321")
    assert sb.get("/businesses/16315550100").json()["connected"] is True


def test_sandbox_restart_is_survived(admin, sb, stack):
    assert health(admin) == "connected"
    stack.kill9("sandbox")
    seen = wait_health(admin, "disconnected", timeout=10)
    assert seen[0] == "connected", seen
    stack.start("sandbox")
    seen = wait_health(admin, "connected", timeout=15)
    # the sandbox kept its state: registrations, pin
    biz = sb.get("/businesses/16315550100").json()
    assert biz["connected"] is True and biz["two_step"] is True
    assert stack.running("coreapp") and stack.running("webapp")
    # a graceful restart too
    stack.stop("sandbox")
    wait_health(admin, "disconnected", timeout=10)
    stack.start("sandbox")
    wait_health(admin, "connected", timeout=15)


def test_coreapp_restart_keeps_registration(admin, sb, stack):
    stack.restart("coreapp")
    stack.wait_ready()
    wait_health(admin, "connected", timeout=15)
    r = admin.post("/v1/account", json=body(sb))
    assert r.status_code == 201, r.text
