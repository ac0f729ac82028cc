"""Callbacks end to end, in the documented shapes (issue 5; spec/WEBHOOKS.md §2-5):
sandbox customer -> network link -> coreapp -> webhook dispatcher -> a real HTTPS
receiver (tests/integration/hookrecv.py) whose CA is uploaded through the API.

Every inbound type the sandbox's customers can send, every status (sent, delivered,
read, failed with 1013 / 470 / 2001 / 2000) with its conversation and pricing, the
system notifications user_identity_changed and user_changed_number with the
settings that gate them, and the per-status switches. Shapes are compared whole:
a field too many or too few fails."""
import base64
import hashlib
import json
import re
import time

import pytest

from hookrecv import Pki, Receiver
from sandbox_client import Sandbox, register
from stack import wait_for

SETTINGS = "/v1/settings/application"
CC, NUMBER = "1", "6315550100"
BUSINESS = CC + NUMBER
KERRY = "16315551234"            # writes every inbound type
JANE = "16315552001"             # statuses inside the window
ROB = "16315552002"              # never writes: business-initiated (templates)
ADA = "16315552003"              # comes from an ad: referral_conversion
NOBODY = "16315559999"           # not on WhatsApp
TEMPLATE = {"namespace": "e2e_ns", "name": "shipped", "language": "en",
            "components": [{"type": "BODY", "text": "Hi {{1}}, parcel {{2}} shipped"}]}
TPL = {"namespace": "e2e_ns", "name": "shipped",
       "language": {"policy": "deterministic", "code": "en"},
       "components": [{"type": "body", "parameters": [{"type": "text", "text": "Rob"},
                                                     {"type": "text", "text": "7"}]}]}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CONV_RE = re.compile(r"^[0-9a-f]{32}$")
UNKNOWN_ERROR = {"code": 501, "title": "Unknown message type",
                 "details": "Message type is not currently supported"}


# ---- fixtures ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def rx(pki):
    r = Receiver(*pki.server)
    yield r
    r.stop()


@pytest.fixture(scope="module")
def sb(stack):
    return Sandbox(stack)


@pytest.fixture(scope="module")
def biz(stack, sb, rx, pki):
    """The registered business, its callbacks going to rx through the uploaded CA."""
    from conftest import Api
    api = Api(stack)
    api.admin_token()
    register(api, sb, CC, NUMBER, "Acme Inc")
    assert sb.patch("/settings", {"delivery_delay_ms": 0, "auto_read": False}).status_code == 200
    r = api.post("/v1/certificates/webhooks/ca", data=pki.ca_pem,
                 headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    patch(api, {"webhooks": {"url": rx.url}})
    assert sb.post("/templates", TEMPLATE).status_code == 201
    for wa_id, name in ((KERRY, "Kerry Fisher"), (JANE, "Jane"), (ROB, "Rob"), (ADA, "Ada")):
        sb.customer(wa_id, name)
    sb.customer(NOBODY, "Nobody", on_whatsapp=False)
    yield api
    api.session.close()


@pytest.fixture
def admin(biz, rx):
    """Each test starts from the default settings, callbacks on."""
    assert biz.delete(SETTINGS).status_code == 200
    patch(biz, {"webhooks": {"url": rx.url}})
    return biz


# ---- helpers -------------------------------------------------------------------------------

def patch(api, body):
    r = api.patch(SETTINGS, json=body)
    assert r.status_code == 200, r.text


def callbacks(rx):
    """Every body the receiver answered 200, parsed (cached on the hit)."""
    with rx.cond:
        out = []
        for h in rx.hits:
            if h["status"] == 200:
                if "json" not in h:
                    h["json"] = json.loads(h["body"])
                out.append(h["json"])
        return out


def wait_callbacks(rx, pred, n=1, timeout=10, what="callbacks"):
    """Waits until n callbacks satisfy pred; returns them."""
    return wait_for(lambda: (lambda got: got if len(got) >= n else None)(
        [b for b in callbacks(rx) if pred(b)]), timeout, what)


def inbound_cb(rx, msg_id, timeout=10):
    cbs = wait_callbacks(rx, lambda b: any(m.get("id") == msg_id for m in b.get("messages", [])),
                         timeout=timeout, what="the callback of inbound " + msg_id)
    assert len(cbs) == 1, cbs
    return cbs[0]


def statuses(rx, msg_id):
    return [s for b in callbacks(rx) for s in b.get("statuses", []) if s["id"] == msg_id]


def wait_statuses(rx, msg_id, want, timeout=10):
    """Waits for the status callbacks of msg_id with the statuses in want; returns
    {status: item}. Each status arrives once."""
    def got():
        st = statuses(rx, msg_id)
        return st if {s["status"] for s in st} >= set(want) else None
    items = wait_for(got, timeout, "%s statuses of %s" % (want, msg_id))
    by = {}
    for s in items:
        assert s["status"] not in by, "status %s twice: %s" % (s["status"], items)
        by[s["status"]] = s
    return by


def status_bodies(rx, msg_id):
    """The whole callback bodies that carry a status of msg_id."""
    return [b for b in callbacks(rx) if any(s["id"] == msg_id for s in b.get("statuses", []))]


def settle(stack, rx, timeout=10):
    """Until every queued callback is delivered (nothing left in wa_callbacks)."""
    wait_for(lambda: stack.psql("SELECT count(*) FROM wa_callbacks") == "0", timeout,
               "the callback queue to drain")


def check_ts(ts):
    assert isinstance(ts, str) and re.fullmatch(r"\d{10}", ts), ts
    assert abs(int(ts) - time.time()) < 120, ts
    return ts


def customer_send(sb, wa_id, body):
    r = sb.post("/customers/%s/messages" % wa_id, dict(body, to=BUSINESS))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def send(api, body):
    r = api.post("/v1/messages", json=body)
    assert r.status_code == 201, r.text
    return r.json()["messages"][0]["id"]


def text(to, body="hello"):
    return {"to": to, "type": "text", "text": {"body": body}}


def b64(data):
    return base64.b64encode(data).decode()


def msg_row(stack, msg_id):
    return stack.psql("SELECT status FROM messages WHERE id = '%s'" % msg_id)


# ---- 1. inbound messages (§2-3) ----------------------------------------------------------------

def test_every_inbound_type_in_the_documented_shape(admin, sb, rx, stack):
    customer_send(sb, KERRY, {"type": "text", "text": {"body": "hi"}})     # opens the window
    ours = send(admin, text(KERRY, "Pick one"))          # what the replies below refer to
    wait_for(lambda: msg_row(stack, ours) == "delivered", 10, "our message delivered")

    jpeg, ogg, pdf = b"\xff\xd8\xff\xe0fake jpeg", b"OggS fake opus", b"%PDF-1.4 fake"
    mp3, mp4, webp = b"ID3 fake mp3", b"\x00\x00\x00\x18ftypmp42", b"RIFF\x00\x00\x00\x00WEBP"
    reply_to_ours = {"from": BUSINESS, "id": ours}
    card = {"name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara"},
            "phones": [{"phone": "+1 (940) 555-1234", "type": "CELL", "wa_id": "19405551234"}],
            "emails": [{"email": "bjohnson@example.com", "type": "WORK"}],
            "org": {"company": "Acme"}, "birthday": "1980-08-18"}
    referral = {"headline": "Spring sale", "body": "20% off", "source_type": "ad",
                "source_id": "6041234", "source_url": "https://fb.me/ad1"}
    # (what the customer sends, the type object the business must get, context?, extra)
    cases = [
        ({"type": "text", "text": {"body": "Hello this is an answer"}},
         {"body": "Hello this is an answer"}, None, {}),
        ({"type": "image", "image": {"data": b64(jpeg), "caption": "Just a test"}},
         {"caption": "Just a test", "mime_type": "image/jpeg",
          "sha256": hashlib.sha256(jpeg).hexdigest()}, None, {}),
        ({"type": "audio", "audio": {"data": b64(mp3), "filename": "song.mp3"}},
         {"mime_type": "audio/mpeg", "sha256": hashlib.sha256(mp3).hexdigest(),
          "filename": "song.mp3"}, None, {}),
        ({"type": "voice", "voice": {"data": b64(ogg)}},
         {"mime_type": "audio/ogg; codecs=opus", "sha256": hashlib.sha256(ogg).hexdigest()},
         None, {}),
        ({"type": "video", "video": {"data": b64(mp4), "caption": "clip"}},
         {"caption": "clip", "mime_type": "video/mp4", "sha256": hashlib.sha256(mp4).hexdigest()},
         None, {}),
        ({"type": "document", "document": {"data": b64(pdf), "caption": "invoice",
                                           "filename": "inv.pdf"}},
         {"caption": "invoice", "filename": "inv.pdf", "mime_type": "application/pdf",
          "sha256": hashlib.sha256(pdf).hexdigest()}, None, {}),
        ({"type": "sticker", "sticker": {"data": b64(webp)}},
         {"mime_type": "image/webp", "sha256": hashlib.sha256(webp).hexdigest()}, None, {}),
        ({"type": "location", "location": {
            "address": "Main Street Beach, Santa Cruz, CA", "latitude": 38.9806263495,
            "longitude": -131.9428612257, "name": "Main Street Beach",
            "url": "https://foursquare.com/v/4d7031d35b5df7744"}},
         {"address": "Main Street Beach, Santa Cruz, CA", "latitude": 38.9806263495,
          "longitude": -131.9428612257, "name": "Main Street Beach",
          "url": "https://foursquare.com/v/4d7031d35b5df7744"}, None, {}),
        ({"type": "location", "location": {"latitude": 1.5, "longitude": 2}},
         {"latitude": 1.5, "longitude": 2}, None, {}),
        ({"type": "contacts", "contacts": [card]}, [card], None, {}),
        ({"type": "button", "button": {"payload": "No-Button-Payload", "text": "No"},
          "context": {"id": ours}},
         {"payload": "No-Button-Payload", "text": "No"}, reply_to_ours, {}),
        ({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {
            "id": "unique-postback-id", "title": "First Button's Title"}}, "context": {"id": ours}},
         {"type": "button_reply", "button_reply": {"id": "unique-postback-id",
                                                   "title": "First Button's Title"}},
         reply_to_ours, {}),
        ({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {
            "id": "list_reply_id", "title": "row title", "description": "row description"}},
          "context": {"id": ours}},
         {"type": "list_reply", "list_reply": {"id": "list_reply_id", "title": "row title",
                                               "description": "row description"}},
         reply_to_ours, {}),
        ({"type": "reaction", "reaction": {"message_id": ours, "emoji": "\u2764\ufe0f"}},
         {"message_id": ours, "emoji": "\u2764\ufe0f"}, None, {}),
        ({"type": "reaction", "reaction": {"message_id": ours, "emoji": ""}},   # removed
         {"message_id": ours, "emoji": ""}, None, {}),
        ({"type": "text", "text": {"body": "as I said"}, "context": {"id": ours}},
         {"body": "as I said"}, reply_to_ours, {}),
        ({"type": "text", "text": {"body": "Is this in blue?"},
          "context": {"id": ours, "referred_product": {"catalog_id": "cat1",
                                                       "product_retailer_id": "sku-9"}}},
         {"body": "Is this in blue?"},
         dict(reply_to_ours, referred_product={"catalog_id": "cat1",
                                               "product_retailer_id": "sku-9"}), {}),
        ({"type": "text", "text": {"body": "fwd"}, "context": {"forwarded": True}},
         {"body": "fwd"}, {"forwarded": True}, {}),
        ({"type": "order", "order": {"catalog_id": "cat1", "text": "asap", "product_items": [
            {"product_retailer_id": "sku-9", "quantity": 2, "item_price": 12.5,
             "currency": "USD"}]}},
         {"catalog_id": "cat1", "text": "asap", "product_items": [
             {"product_retailer_id": "sku-9", "quantity": 2, "item_price": 12.5,
              "currency": "USD"}]}, None, {}),
        ({"type": "text", "text": {"body": "saw your ad"}, "referral": referral},
         {"body": "saw your ad"}, None, {"referral": referral}),
    ]
    sent = []
    for body, obj, ctx, extra in cases:
        sent.append((customer_send(sb, KERRY, body), body["type"], obj, ctx, extra))
    # a reply quoting the customer's own message: context.from is the customer
    own = sent[0][0]
    sent.append((customer_send(sb, KERRY, {"type": "text", "text": {"body": "me again"},
                                           "context": {"id": own}}),
                 "text", {"body": "me again"}, {"from": KERRY, "id": own}, {}))
    # a kind this client can't show: type "unknown" with error 501, its object dropped
    sent.append((customer_send(sb, KERRY, {"type": "poll", "poll": {"question": "?"}}),
                 "unknown", None, None, {}))

    for msg_id, typ, obj, ctx, extra in sent:
        cb = inbound_cb(rx, msg_id)
        assert set(cb) == {"contacts", "messages"}, cb
        assert cb["contacts"] == [{"profile": {"name": "Kerry Fisher"}, "wa_id": KERRY}], cb
        assert len(cb["messages"]) == 1, cb
        m = cb["messages"][0]
        want = {"from": KERRY, "id": msg_id, "timestamp": check_ts(m.get("timestamp")),
                "type": typ, **extra}
        if typ == "unknown":
            want["errors"] = [UNKNOWN_ERROR]
        else:
            want[typ] = obj
        if ctx is not None:
            want["context"] = ctx
        if typ in ("image", "audio", "voice", "video", "document", "sticker"):
            assert UUID_RE.match(m[typ].get("id", "")), m        # a media id
            want[typ] = dict(obj, id=m[typ]["id"])
        assert m == want, "%s:\n got  %s\n want %s" % (typ, m, want)
    media_ids = [inbound_cb(rx, i)["messages"][0][t]["id"] for i, t, *_ in sent
                 if t in ("image", "audio", "voice", "video", "document", "sticker")]
    assert len(set(media_ids)) == len(media_ids)
    # each inbound message was posted once, and stored once
    assert len([b for b in callbacks(rx) if b.get("messages") and
                b["messages"][0]["id"] in {s[0] for s in sent}]) == len(sent)
    assert stack.psql("SELECT type FROM messages WHERE id = '%s'" % sent[-1][0]) == "unknown"


def test_sandbox_refuses_malformed_inbound(admin, sb):
    def bad(body, status=400):
        r = sb.post("/customers/%s/messages" % KERRY, dict(body, to=BUSINESS))
        assert r.status_code == status, r.text
        assert r.json()["error"]["message"]
    bad({"type": "image", "image": {"caption": "no bytes"}})
    bad({"type": "image", "image": {"data": "not*base64"}})
    bad({"type": "location", "location": {"latitude": "north", "longitude": 1}})
    bad({"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": {}}})
    bad({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "x"}}})
    bad({"type": "button", "button": {"payload": "p"}})
    bad({"type": "reaction", "reaction": {"emoji": "x"}})
    bad({"type": "contacts", "contacts": []})
    bad({"type": "system", "system": {"body": "x"}})
    bad({"type": "text", "text": {"body": "x"}, "context": {"id": "ABGGnoSuchMessage"}})
    r = sb.post("/customers/%s/messages" % NOBODY, {"to": BUSINESS, "type": "text",
                                                    "text": {"body": "x"}})
    assert r.status_code == 409, r.text


# ---- 2. statuses (§5) ---------------------------------------------------------------------

def conversation_of(st, origin, cid=None, opens=False):
    """Checks status item st's conversation and pricing; returns the conversation id."""
    conv = st["conversation"]
    assert set(conv) == ({"id", "origin", "expiration_timestamp"} if opens else
                         {"id", "origin"}), st
    assert CONV_RE.match(conv["id"]), st
    if cid is not None:
        assert conv["id"] == cid, st
    assert conv["origin"] == {"type": origin}, st
    if opens:
        exp = conv["expiration_timestamp"]
        assert isinstance(exp, str) and re.fullmatch(r"\d{10}", exp), st
        assert abs(int(exp) - (int(st["timestamp"]) + 86400)) <= 2, st
    assert st["pricing"] == {"billable": origin != "referral_conversion",
                             "pricing_model": "CBP", "category": origin}, st
    return conv["id"]


def check_status(st, msg_id, to, status):
    """The common fields, exactly; returns the item without them."""
    assert st["id"] == msg_id and st["recipient_id"] == to and st["status"] == status, st
    check_ts(st["timestamp"])
    return {k: v for k, v in st.items() if k not in ("id", "recipient_id", "status", "timestamp")}


def test_sent_delivered_read_with_conversation_and_pricing(admin, sb, rx, stack):
    sb.post("/customers/%s/close-window" % JANE)
    customer_send(sb, JANE, {"type": "text", "text": {"body": "hi, it's Jane"}})
    first = send(admin, text(JANE, "hello Jane"))
    got = wait_statuses(rx, first, ["sent", "delivered"])
    r = sb.post("/customers/%s/read" % JANE, {"id": first})
    assert r.status_code == 200, r.text
    got.update(wait_statuses(rx, first, ["read"]))
    for b in status_bodies(rx, first):
        assert set(b) == {"statuses"} and len(b["statuses"]) == 1, b
    rest = {s: check_status(got[s], first, JANE, s) for s in ("sent", "delivered", "read")}
    for s in rest:
        assert set(rest[s]) == {"conversation", "pricing"}, got[s]
    # the first message opens a user-initiated conversation; its sent status says until when
    cid = conversation_of(got["sent"], "user_initiated", opens=True)
    conversation_of(got["delivered"], "user_initiated", cid)
    conversation_of(got["read"], "user_initiated", cid)
    assert int(got["sent"]["timestamp"]) <= int(got["delivered"]["timestamp"]) <= int(
        got["read"]["timestamp"])

    # the next message is in the same conversation: no expiration
    second = send(admin, text(JANE, "and another"))
    got2 = wait_statuses(rx, second, ["sent", "delivered"])
    conversation_of(got2["sent"], "user_initiated", cid)
    conversation_of(got2["delivered"], "user_initiated", cid)

    # a template to someone who never wrote opens a business-initiated conversation
    tpl = send(admin, {"to": ROB, "type": "template", "template": TPL})
    got3 = wait_statuses(rx, tpl, ["sent", "delivered"])
    rob = conversation_of(got3["sent"], "business_initiated", opens=True)
    assert rob != cid
    conversation_of(got3["delivered"], "business_initiated", rob)

    # a customer who came from an ad: the reply opens a (free) referral conversion
    customer_send(sb, ADA, {"type": "text", "text": {"body": "saw the ad"},
                            "referral": {"source_type": "ad", "source_id": "1",
                                         "source_url": "https://fb.me/1", "headline": "h",
                                         "body": "b"}})
    ada = send(admin, text(ADA, "welcome"))
    got4 = wait_statuses(rx, ada, ["sent", "delivered"])
    conversation_of(got4["sent"], "referral_conversion", opens=True)
    assert got4["sent"]["pricing"]["billable"] is False


def test_failed_statuses_carry_errors(admin, sb, rx):
    def failed(msg_id, code, title, details=None):
        st = wait_statuses(rx, msg_id, ["failed"])["failed"]
        rest = check_status(st, msg_id, st["recipient_id"], "failed")
        assert set(rest) == {"errors"}, st                 # no conversation, not billed
        assert len(rest["errors"]) == 1, st
        e = rest["errors"][0]
        assert set(e) == {"code", "title", "details"}, st
        assert e["code"] == code and e["title"] == title, st
        assert isinstance(e["details"], str) and e["details"], st
        if details:
            assert e["details"] == details, st
        assert [s["status"] for s in statuses(rx, msg_id)] == ["failed"]
        return st

    st = failed(send(admin, text(NOBODY)), 1013, "User is not valid")
    assert st["recipient_id"] == NOBODY
    sb.post("/customers/%s/close-window" % ROB)
    st = failed(send(admin, text(ROB, "free-form, no window")), 470, "Re-engagement message",
                "Message failed to send because more than 24 hours have passed since the"
                " customer last replied to this number.")
    assert st["recipient_id"] == ROB
    failed(send(admin, {"to": ROB, "type": "template",
                        "template": dict(TPL, name="no_such_template")}), 2001, "Template Missing")
    one = dict(TPL, components=[{"type": "body", "parameters": [{"type": "text", "text": "x"}]}])
    failed(send(admin, {"to": ROB, "type": "template", "template": one}), 2000,
           "Template Param Count Mismatch")


def test_pricing_can_be_left_out(admin, sb, rx):
    patch(admin, {"webhook_payload_conversation_pricingmodel_disabled": True})
    customer_send(sb, JANE, {"type": "text", "text": {"body": "again"}})
    m = send(admin, text(JANE, "no prices"))
    got = wait_statuses(rx, m, ["sent", "delivered"])
    for s in ("sent", "delivered"):
        assert check_status(got[s], m, JANE, s) == {}, got[s]


# ---- 4. the per-status switches ---------------------------------------------------------------

def walk(admin, sb, stack, rx, body_text):
    """Sends one message, lets the customer read it, and waits until its statuses
    are recorded and every queued callback delivered. Returns the statuses posted."""
    m = send(admin, text(JANE, body_text))
    wait_for(lambda: msg_row(stack, m) == "delivered", 10, "delivered")
    assert sb.post("/customers/%s/read" % JANE, {"id": m}).status_code == 200
    wait_for(lambda: msg_row(stack, m) == "read", 10, "read")
    settle(stack, rx)
    return sorted(s["status"] for s in statuses(rx, m))


def test_per_status_switches(admin, sb, rx, stack):
    customer_send(sb, JANE, {"type": "text", "text": {"body": "window"}})
    assert walk(admin, sb, stack, rx, "defaults") == ["delivered", "read", "sent"]
    patch(admin, {"webhooks": {"message": {"sent": False}}})
    assert walk(admin, sb, stack, rx, "no sent") == ["delivered", "read"]
    patch(admin, {"sent_status": True})                  # the older switch still gives sent
    assert walk(admin, sb, stack, rx, "sent_status") == ["delivered", "read", "sent"]
    patch(admin, {"sent_status": False, "webhooks": {"message": {"sent": True,
                                                                 "delivered": False}}})
    assert walk(admin, sb, stack, rx, "no delivered") == ["read", "sent"]
    patch(admin, {"webhooks": {"message": {"delivered": True, "read": False}}})
    assert walk(admin, sb, stack, rx, "no read") == ["delivered", "sent"]
    patch(admin, {"webhooks": {"message": {"sent": False, "delivered": False, "read": False}}})
    assert walk(admin, sb, stack, rx, "none") == []
    # failures are always reported
    bad = send(admin, text(NOBODY, "still told"))
    assert [s["status"] for s in wait_statuses(rx, bad, ["failed"]).values()] == ["failed"]


# ---- 3. system notifications (§4) ------------------------------------------------------------

def identity_row(stack, wa_id):
    return stack.psql("SELECT hash || CASE WHEN acknowledged THEN '|t' ELSE '|f' END"
                       " FROM contact_identities"
                       " WHERE wa_id = '%s'" % wa_id)


def is_system(b, wa_id, kind):
    return any(m.get("type") == "system" and m["from"] == wa_id and m["system"]["type"] == kind
               for m in b.get("messages", []))


def system_cbs(rx, wa_id, kind):
    return [b for b in callbacks(rx) if is_system(b, wa_id, kind)]


def test_user_identity_changed(admin, sb, rx, stack):
    who = "16315552010"
    sb.customer(who, "Ivy")
    # off by default: the identity is recorded (unacknowledged), nobody is called
    quiet = sb.post("/customers/%s/identity" % who).json()["hash"]
    wait_for(lambda: identity_row(stack, who) == quiet + "|f", 10, "the identity recorded")
    settle(stack, rx)
    assert system_cbs(rx, who, "user_identity_changed") == []

    patch(admin, {"show_security_notifications": True})
    r = sb.post("/customers/%s/identity" % who)
    assert r.status_code == 200, r.text
    new = r.json()
    cbs = wait_callbacks(rx, lambda b: is_system(b, who, "user_identity_changed"),
                         what="user_identity_changed")
    assert len(cbs) == 1, cbs
    cb = cbs[0]
    assert set(cb) == {"messages"} and len(cb["messages"]) == 1, cb
    m = cb["messages"][0]
    assert re.fullmatch(r"ABGG[0-9A-F]{28}", m["id"]), m
    assert m == {"from": who, "id": m["id"], "timestamp": check_ts(m["timestamp"]),
                 "type": "system",
                 "system": {"body": "Your security code with +%s changed." % who,
                            "identity": new["hash"], "customer": who,
                            "type": "user_identity_changed"}}, m
    assert int(m["timestamp"]) == new["created_timestamp"] // 1000
    assert identity_row(stack, who) == new["hash"] + "|f"
    # acknowledging it does not call again
    r = admin.put("/v1/contacts/%s/identity" % who, json={"hash": new["hash"]})
    assert r.status_code == 200, r.text
    settle(stack, rx)
    assert len(system_cbs(rx, who, "user_identity_changed")) == 1


def test_user_changed_number(admin, sb, rx, stack):
    old, new = "16315552020", "16315552021"
    sb.customer(old, "Uma")
    r = sb.post("/customers/%s/change-number" % old, {"new_wa_id": new})
    assert r.status_code == 200, r.text
    cbs = wait_callbacks(rx, lambda b: is_system(b, old, "user_changed_number"),
                         what="user_changed_number")
    assert len(cbs) == 1 and set(cbs[0]) == {"messages"}, cbs
    m = cbs[0]["messages"][0]
    assert re.fullmatch(r"ABGG[0-9A-F]{20}", m["id"]), m
    assert m == {"from": old, "id": m["id"], "timestamp": check_ts(m["timestamp"]),
                 "type": "system",
                 "system": {"body": "Uma changed from +%s to +%s" % (old, new),
                            "new_wa_id": new, "type": "user_changed_number"}}, m
    # the old number has left WhatsApp; the new one is Uma
    assert sb.get("/customers/%s" % old).json()["on_whatsapp"] is False
    assert sb.get("/customers/%s" % new).json()["name"] == "Uma"
    assert sb.post("/customers/%s/change-number" % old, {"new_wa_id": "1"}).status_code == 404

    # notify_user_change_number off: stored, not posted
    patch(admin, {"notify_user_change_number": False})
    r = sb.post("/customers/%s/change-number" % new, {"new_wa_id": old})
    assert r.status_code == 200, r.text
    wait_for(lambda: stack.psql("SELECT count(*) FROM messages WHERE type = 'system'"
                                   " AND peer = '%s'" % new) == "1", 10, "the notification stored")
    settle(stack, rx)
    assert system_cbs(rx, new, "user_changed_number") == []


def send_text(api, to):
    return api.post("/v1/messages", json={"to": to, "type": "text", "text": {"body": "hello"}})


def code_of(r):
    return r.json()["errors"][0]["code"] if r.status_code >= 400 else None


def test_sends_wait_for_the_identity_change_to_be_acknowledged(admin, sb, rx, stack):
    """1028 (spec/ERRORS.md, API.md §5.3): with show_security_notifications on, a customer
    whose identity changed gets no message until the business acknowledges the new one;
    meanwhile that customer's messages carry the "identity" object (WEBHOOKS.md §3)."""
    who, other = "16315552030", "16315552031"
    sb.customer(who, "Jo")
    sb.customer(other, "Kim")
    changed = sb.post("/customers/%s/identity" % who).json()["hash"]
    wait_for(lambda: identity_row(stack, who) == changed + "|f", 10, "the identity recorded")
    # the setting off (the default): nothing is blocked, nothing is shown
    r = send_text(admin, who)
    assert r.status_code == 201, r.text
    quiet = customer_send(sb, who, {"type": "text", "text": {"body": "off"}})
    assert "identity" not in inbound_cb(rx, quiet)["messages"][0]

    patch(admin, {"show_security_notifications": True})
    for to in (who, "+" + who, "+1 (631) 555-2030"):         # whatever the number's format
        r = send_text(admin, to)
        assert r.status_code == 400 and code_of(r) == 1028, (to, r.text)
        assert who in r.json()["errors"][0]["details"], r.text
    assert send_text(admin, other).status_code == 201            # only that customer
    said = customer_send(sb, who, {"type": "text", "text": {"body": "it is me"}})
    m = inbound_cb(rx, said)["messages"][0]
    created = int(stack.psql("SELECT created_timestamp FROM contact_identities"
                             " WHERE wa_id = '%s'" % who))
    assert m["identity"] == {"acknowledged": False, "created_timestamp": created,
                             "hash": changed}, m
    other_said = customer_send(sb, other, {"type": "text", "text": {"body": "hi"}})
    assert "identity" not in inbound_cb(rx, other_said)["messages"][0]

    # the blocked set is the table's: it survives a restart of the coreapp
    stack.kill9("coreapp")
    stack.start("coreapp")
    wait_for(lambda: code_of(send_text(admin, who)) == 1028, 20, "1028 after the restart")

    # acknowledging an older hash does not unblock; the latest one does
    r = admin.put("/v1/contacts/%s/identity" % who, json={"hash": changed + "x"})
    assert r.status_code == 400, r.text
    assert code_of(send_text(admin, who)) == 1028
    r = admin.put("/v1/contacts/%s/identity" % who, json={"hash": changed})
    assert r.status_code == 200, r.text
    r = send_text(admin, who)
    assert r.status_code == 201, r.text
    after = customer_send(sb, who, {"type": "text", "text": {"body": "thanks"}})
    assert "identity" not in inbound_cb(rx, after)["messages"][0]

    # a further change blocks again
    again = sb.post("/customers/%s/identity" % who).json()["hash"]
    wait_for(lambda: identity_row(stack, who) == again + "|f", 10, "the new identity recorded")
    assert code_of(send_text(admin, who)) == 1028
