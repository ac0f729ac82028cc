"""POST /v1/contacts and the identity edge (spec/API.md §5, CLARIFICATIONS.md §1-2) through
the real sandbox: number formats, statuses, the 7-day cache proven by the sandbox's lookup
count, force_check, no_wait, big batches, request-shape errors and identities."""
import time

import pytest

from sandbox_client import Sandbox, register, wait_health


@pytest.fixture(scope="module")
def sbm(stack):
    return Sandbox(stack)


@pytest.fixture
def admin(api, sbm):
    api.admin_token()
    if not getattr(sbm, "registered", False):
        sbm.patch("/settings", {"delivery_delay_ms": 0})
        register(api, sbm)          # a +1 business: the default region is NANP
        sbm.registered = True
    return api


def check(api, numbers, **kw):
    r = api.post("/v1/contacts", json={"contacts": numbers, **kw})
    assert r.status_code == 200, r.text
    got = r.json()["contacts"]
    assert [c["input"] for c in got] == numbers      # byte for byte, in order
    return got


def lookups(sb):
    return sb.stats()["lookups"]


def error(r, code, words):
    assert r.status_code == 400, r.text
    e = r.json()["errors"][0]
    assert e["code"] == code and words in e["details"], r.text


FORMATS = [
    ("+1 (631) 555-1002", "16315551002"),
    ("631-555-1002", "16315551002"),
    ("1-631-555-1002", "16315551002"),
    ("16315551002", "16315551002"),
    ("6315551002", "16315551002"),
    ("(631) 555.1002", "16315551002"),
    ("001 631 555 1002", "16315551002"),
    ("011 1 631 555 1002", "16315551002"),
    ("+16315551002", "16315551002"),
    ("0044 20 7946 0000", "442079460000"),
    ("011 44 20 7946 0000", "442079460000"),
    ("+44 20 7946 0000", "442079460000"),
    ("+44 (0)20 7946 0000", "442079460000"),
    ("+49 30 123456", "4930123456"),
    ("+33 1 23 45 67 89", "33123456789"),
    ("+91 98765 43210", "919876543210"),
    ("+55 11 91234-5678", "5511912345678"),
    ("+52 55 1234 5678", "525512345678"),
    ("+52 1 55 1234 5678", "525512345678"),   # libphonenumber strips the old mobile 1
]
GARBAGE = ["abc", "", "+", "+163155588", "631-555-10", "12345", "+0 631 555 1002",
           "+1\u00a0631 555 1002", " 555-1002 "]


def test_formats_and_garbage(admin, sbm):
    inputs = [f for f, _ in FORMATS] + GARBAGE
    got = check(admin, inputs, blocking="wait")
    for (inp, wa_id), c in zip(FORMATS, got):
        assert c == {"input": inp, "status": "valid", "wa_id": wa_id}, c
    for c in got[len(FORMATS):]:
        assert c == {"input": c["input"], "status": "invalid"}, c


def test_not_on_whatsapp_is_invalid(admin, sbm):
    sbm.customer("16315559999", "Nobody", on_whatsapp=False)
    got = check(admin, ["+1 631 555 9999", "+1 631 555 9998"], blocking="wait")
    assert got[0] == {"input": "+1 631 555 9999", "status": "invalid"}
    assert got[1] == {"input": "+1 631 555 9998", "status": "valid", "wa_id": "16315559998"}


def test_cache_and_force_check(admin, sbm):
    nums = ["+1 631 555 2001", "631-555-2002", "+1 631 555 2003"]
    before = lookups(sbm)
    first = check(admin, nums, blocking="wait")
    assert [c["status"] for c in first] == ["valid"] * 3
    assert lookups(sbm) == before + 3
    # cached: same answers, no lookups; the same number twice in a batch is looked up once
    again = check(admin, nums + ["16315552001"], blocking="wait")
    assert again[:3] == first and again[3]["wa_id"] == "16315552001"
    assert check(admin, nums) == first            # no_wait answers from the cache too
    assert lookups(sbm) == before + 3
    # force_check bypasses the cache, and the network's new answer replaces it
    sbm.customer("16315552002", "Gone", on_whatsapp=False)
    forced = check(admin, nums, blocking="wait", force_check=True)
    assert [c["status"] for c in forced] == ["valid", "invalid", "valid"]
    assert lookups(sbm) == before + 6
    assert check(admin, nums, blocking="wait")[1]["status"] == "invalid"
    assert lookups(sbm) == before + 6
    check(admin, nums, blocking="wait", force_check=False)
    assert lookups(sbm) == before + 6


def test_no_wait_processing_then_resolved(admin, sbm):
    nums = ["+1 631 555 3001", "+1 631 555 3002"]
    got = check(admin, nums, blocking="no_wait")
    assert [c["status"] for c in got] == ["processing", "processing"]
    assert all("wa_id" not in c for c in got)
    deadline = time.monotonic() + 5
    while True:
        got = check(admin, nums)                 # blocking defaults to no_wait
        if got[0]["status"] != "processing" and got[1]["status"] != "processing":
            break
        assert time.monotonic() < deadline, got
        time.sleep(0.05)
    assert got == [{"input": nums[0], "status": "valid", "wa_id": "16315553001"},
                   {"input": nums[1], "status": "valid", "wa_id": "16315553002"}]


def test_batch_of_1000(admin, sbm):
    nums = ["+1 (631) 6%02d-%04d" % (i // 100, i) for i in range(1000)]
    before = lookups(sbm)
    got = check(admin, nums, blocking="wait")
    assert len(got) == 1000
    for i, c in enumerate(got):
        assert c == {"input": nums[i], "status": "valid", "wa_id": "16316%02d%04d" % (i // 100, i)}
    assert lookups(sbm) == before + 1000
    assert check(admin, nums, blocking="wait") == got
    assert lookups(sbm) == before + 1000


@pytest.mark.parametrize("body, code, words", [
    ({}, 1008, "contacts"),
    ({"contacts": None}, 1008, "contacts"),
    ({"contacts": "+16315551002"}, 1009, "array"),
    ({"contacts": {"a": "+16315551002"}}, 1009, "array"),
    ({"contacts": []}, 1009, "empty"),
    ({"contacts": ["+16315551002", 16315551002]}, 1009, "contacts[1]"),
    ({"contacts": [None]}, 1009, "contacts[0]"),
    ({"contacts": [["+16315551002"]]}, 1009, "contacts[0]"),
    ({"contacts": ["+16315551002"] * 10001}, 1009, "10000"),
    ({"contacts": ["+16315551002"], "blocking": "sometimes"}, 1009, "blocking"),
    ({"contacts": ["+16315551002"], "blocking": 1}, 1009, "blocking"),
    ({"contacts": ["+16315551002"], "blocking": "WAIT"}, 1009, "blocking"),
    ({"contacts": ["+16315551002"], "force_check": "true"}, 1009, "force_check"),
    ({"contacts": ["+16315551002"], "force_check": 1}, 1009, "force_check"),
])
def test_request_shape_errors(admin, body, code, words):
    error(admin.post("/v1/contacts", json=body), code, words)


def test_limit_is_10000(admin):
    got = check(admin, ["+16315551002"] * 10000, blocking="wait")
    assert len(got) == 10000 and got[-1]["wa_id"] == "16315551002"


def test_identity(admin, sbm):
    r = admin.get("/v1/contacts/16315551002/identity")
    assert r.status_code == 200, r.text
    first = r.json()["contacts"]
    assert first["acknowledged"] is True and isinstance(first["created_timestamp"], int)
    assert len(first["hash"]) == 12
    # the customer reinstalls: a new identity, which must be acknowledged
    changed = sbm.post("/customers/16315551002/identity").json()
    assert changed["hash"] != first["hash"]
    deadline = time.monotonic() + 5
    while True:
        now = admin.get("/v1/contacts/16315551002/identity").json()["contacts"]
        if now["hash"] == changed["hash"]:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.05)
    assert now == {"hash": changed["hash"], "created_timestamp": changed["created_timestamp"],
                   "acknowledged": False}
    r = admin.put("/v1/contacts/16315551002/identity", json={"hash": first["hash"]})
    error(r, 1009, "hash")
    r = admin.put("/v1/contacts/16315551002/identity", json={})
    error(r, 1008, "hash")
    r = admin.put("/v1/contacts/16315551002/identity", json={"hash": 5})
    error(r, 1009, "hash")
    r = admin.put("/v1/contacts/16315551002/identity", json={"hash": changed["hash"]})
    assert r.status_code == 200, r.text
    now = admin.get("/v1/contacts/16315551002/identity").json()["contacts"]
    assert now["acknowledged"] is True and now["hash"] == changed["hash"]
    # not a WhatsApp user (made here too, so that the test stands alone); not a wa_id
    sbm.customer("16315559999", "Nobody", on_whatsapp=False)
    r = admin.get("/v1/contacts/16315559999/identity")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == 1006, r.text
    error(admin.get("/v1/contacts/abc/identity"), 1009, "wa_id")


def test_lookups_while_the_network_is_down(admin, sbm, stack):
    stack.kill9("sandbox")
    wait_health(admin, "disconnected", timeout=10)
    got = check(admin, ["+1 631 555 4001"], blocking="wait")
    assert got == [{"input": "+1 631 555 4001", "status": "failed"}]
    got = check(admin, ["+1 631 555 4002"])
    assert got == [{"input": "+1 631 555 4002", "status": "processing"}]
    stack.start("sandbox")
    wait_health(admin, "connected", timeout=15)
    # the background check queued while the link was down ran once it came back
    deadline = time.monotonic() + 5
    while check(admin, ["+1 631 555 4002"])[0]["status"] == "processing":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert check(admin, ["+1 631 555 4002"])[0] == {
        "input": "+1 631 555 4002", "status": "valid", "wa_id": "16315554002"}
