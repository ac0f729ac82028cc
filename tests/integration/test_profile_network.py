"""The network shows customers the business's current profile (issue 6; coreapp/profile.h,
netproto.h "profile"): every committed change of the About text, the photo or the business
profile reaches wa-sandbox, whose control API shows it in GET /businesses/{wa_id} as
"profile": {"about", "photo": {"sha256", "size", "type"} | null, "business": {...}};
and the coreapp pushes the whole profile again every time its link comes up, so what the
network shows is right after a restart, a registration or a network outage.

Also the link's documented metrics in /v1/stats/app (internal_server_*, in_message_*) and
db_pending_messages in /v1/stats/db, as this registered stack exercises the link."""
import hashlib
import time

import pytest

from sandbox_client import Sandbox, register, wait_health
from test_profile import JPEG, png

WA_ID = "16315550100"
EMPTY_BUSINESS = {"address": "", "description": "", "email": "", "vertical": "", "websites": []}


def shown(sb):
    """What the network shows of the business's profile (None before any push)."""
    r = sb.get("/businesses/" + WA_ID)
    assert r.status_code == 200, r.text
    return r.json()["profile"]


def wait_shown(sb, want, timeout=10):
    """Waits until the network shows a profile for which want(profile) holds."""
    deadline = time.monotonic() + timeout
    while True:
        p = shown(sb)
        if p is not None and want(p):
            return p
        assert time.monotonic() < deadline, "the network shows %s" % p
        time.sleep(0.05)


@pytest.fixture(scope="module")
def admin(stack):
    from conftest import Api
    api = Api(stack)
    return api.as_token(api.admin_token())


def ok(r):
    assert r.status_code == 200, r.text


def test_a_change_before_registration_is_shown_once_registered(admin, stack):
    sb = Sandbox(stack)
    ok(admin.patch("/v1/settings/profile/about", json={"text": "Open 9-5"}))
    register(admin, sb, vname="Acme")
    p = wait_shown(sb, lambda p: p["about"] == "Open 9-5")
    assert p["photo"] is None
    assert p["business"] == EMPTY_BUSINESS
    assert isinstance(p["updated_ms"], int)


def test_every_change_is_shown(admin, stack):
    sb = Sandbox(stack)
    ok(admin.patch("/v1/settings/profile/about", json={"text": "We answer within the hour"}))
    wait_shown(sb, lambda p: p["about"] == "We answer within the hour")

    image = png(4, 5)
    ok(admin.post("/v1/settings/profile/photo", data=image,
                  headers={"Content-Type": "image/png"}))
    p = wait_shown(sb, lambda p: p["photo"] is not None)
    assert p["photo"] == {"sha256": hashlib.sha256(image).hexdigest(), "size": len(image),
                          "type": "image/png"}
    ok(admin.post("/v1/settings/profile/photo", data=JPEG,
                  headers={"Content-Type": "image/jpeg"}))
    p = wait_shown(sb, lambda p: p["photo"]["type"] == "image/jpeg")
    assert p["photo"] == {"sha256": hashlib.sha256(JPEG).hexdigest(), "size": len(JPEG),
                          "type": "image/jpeg"}

    business = {"address": "1 Main St", "description": "Bikes", "email": "shop@example.com",
                "vertical": "Shopping and Retail", "websites": ["https://example.com/"]}
    ok(admin.post("/v1/settings/business/profile", json=business))
    p = wait_shown(sb, lambda p: p["business"]["address"] == "1 Main St")
    assert p["business"] == business
    # a partial update: the network gets the whole profile, not the difference
    ok(admin.post("/v1/settings/business/profile", json={"description": "Bikes and repairs"}))
    p = wait_shown(sb, lambda p: p["business"]["description"] == "Bikes and repairs")
    assert p["business"] == dict(business, description="Bikes and repairs")
    assert p["about"] == "We answer within the hour"

    ok(admin.delete("/v1/settings/profile/photo"))
    p = wait_shown(sb, lambda p: p["photo"] is None)
    assert p["about"] == "We answer within the hour"

    # a refused change changes nothing anywhere
    r = admin.patch("/v1/settings/profile/about", json={"text": "x" * 140})
    assert r.status_code == 400, r.text
    time.sleep(0.3)
    assert shown(sb)["about"] == "We answer within the hour"
    # every business in the list carries its profile too
    r = sb.get("/businesses")
    assert r.status_code == 200, r.text
    assert [b["profile"]["about"] for b in r.json()["businesses"] if b["wa_id"] == WA_ID] == \
        ["We answer within the hour"]


def test_the_profile_is_pushed_again_when_the_link_comes_up(admin, stack):
    sb = Sandbox(stack)
    # the database changes while the coreapp is down (as a restore would): the push at
    # link-up after the restart is what tells the network
    stack.stop("coreapp")
    stack.psql("UPDATE profile SET about = 'Changed while down' WHERE id = 1")
    stack.psql("UPDATE business_profile SET address = '2 Side St' WHERE id = 1")
    stack.start("coreapp")
    p = wait_shown(sb, lambda p: p["about"] == "Changed while down", timeout=20)
    assert p["business"]["address"] == "2 Side St"

    # a change while the network is down is shown once it is back
    stack.stop("sandbox")
    wait_health(admin, "disconnected", timeout=15)
    ok(admin.patch("/v1/settings/profile/about", json={"text": "Changed while away"}))
    stack.start("sandbox")
    wait_health(admin, "connected", timeout=20)
    wait_shown(sb, lambda p: p["about"] == "Changed while away", timeout=15)
    # and the network keeps it across its own restart
    stack.stop("sandbox")
    stack.start("sandbox")
    stack.wait_ready()
    assert shown(sb)["about"] == "Changed while away"


def app_stats(admin):
    r = admin.get("/v1/stats/app")
    assert r.status_code == 200, r.text
    return {name: sum(d["value"] for d in m["data"])
            for name, m in r.json()["stats"]["app"].items()}


def pending_messages(admin):
    r = admin.get("/v1/stats/db")
    assert r.status_code == 200, r.text
    return r.json()["stats"]["db"]["db_pending_messages"]["data"][0]["value"]


def test_link_metrics_and_pending_messages(admin, stack):
    sb = Sandbox(stack)
    customer = "16315551234"
    sb.customer(customer, "Jane")
    wait_health(admin, "connected", timeout=20)
    before = app_stats(admin)
    # counters since this coreapp started (the last test restarted it): its first
    # session and the one after the sandbox's outage (the quick restart after that may
    # not be noticed yet)
    assert before["internal_server_conn_duration_ms_count"] >= 2, before
    assert before["internal_server_conn_duration_ms_sum"] >= 0
    # request/answer exchanges: a profile push at each link-up, and one for the change
    assert before["internal_server_requests_duration_ms_count"] >= 3, before

    for text in ("one", "two"):
        r = sb.post("/customers/%s/messages" % customer,
                    {"to": WA_ID, "type": "text", "text": {"body": text}})
        assert r.status_code == 201, r.text
    deadline = time.monotonic() + 10
    while True:
        now = app_stats(admin)
        if now["in_message_persisted"] >= before["in_message_persisted"] + 2:
            break
        assert time.monotonic() < deadline, (before, now)
        time.sleep(0.05)
    for name in ("in_message_from_server", "in_message_decoded", "in_message_persisted"):
        assert now[name] == before[name] + 2, (name, before, now)
    assert stack.psql("SELECT count(*) FROM messages WHERE direction = 'inbound'") == \
        str(int(now["in_message_persisted"]))

    # a profile change is one more request, timed
    ok(admin.patch("/v1/settings/profile/about", json={"text": "Metrics"}))
    wait_shown(sb, lambda p: p["about"] == "Metrics")
    later = app_stats(admin)
    assert later["internal_server_requests_duration_ms_count"] == \
        now["internal_server_requests_duration_ms_count"] + 1
    assert later["internal_server_requests_duration_ms_sum"] >= \
        now["internal_server_requests_duration_ms_sum"]

    # db_pending_messages: a send the network has not acknowledged yet
    assert pending_messages(admin) == 0
    stack.stop("sandbox")
    r = admin.post("/v1/messages", json={"to": customer, "type": "text", "text": {"body": "x"}})
    assert r.status_code == 201, r.text
    assert pending_messages(admin) == 1
    stack.start("sandbox")
    deadline = time.monotonic() + 20
    while pending_messages(admin) != 0:
        assert time.monotonic() < deadline, "the message was never acknowledged"
        time.sleep(0.1)
