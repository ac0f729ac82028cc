"""POST /v1/settings/backup and /v1/settings/restore (spec/API.md §13.3; coreapp/backup.h).

A business registers on the first installation through the sandbox and changes its
settings and profiles; its backup is restored into a second, fresh installation (its own
PostgreSQL, coreapp and webapp) whose coreapp talks to the FIRST installation's sandbox,
the network that knows the registration. The first coreapp is stopped before, as when a
business moves: the network speaks to one session per number. After the restore the
second installation is connected as that business without a restart, shows the same
settings and profiles, and its message reaches the sandbox's customer. Refusals (wrong
password, every kind of damaged blob, bad bodies, a user token) change nothing."""
import base64
import subprocess
import threading
import time

import pytest

from conftest import Api
from images import png
from sandbox_client import Sandbox, health, register, wait_health
from stack import Stack, wait_for

CC, NUMBER = "1", "6315550142"
BUSINESS = CC + NUMBER
CUSTOMER = "16315551234"
PASSWORD = "correct horse battery staple"
STRONG = "Str0ng!pass"
SETTINGS = {
    "webhooks": {"url": "https://127.0.0.1:9/hook", "max_concurrent_requests": 12,
                 "message": {"read": False}, "secret": "hmac-key-0123456789"},
    "callback_backoff_delay_ms": 4500,
    "media": {"auto_download": ["image", "document"]},
    "garbagecollector_enable": {"messages": False},
    "show_security_notifications": True,
    "on_call_pager": "16315550199",
}
ABOUT = "Restored from backup \u2713"
BUSINESS_PROFILE = {"address": "1 Main St", "description": "We sell things", "email": "hi@acme.example",
                    "vertical": "Restaurant", "websites": ["https://acme.example", "http://acme.test/x"]}
CA_PEM = None          # filled in by the fixture: the webhook CA bundle of the first installation


PNG = png()


def error(r, status, code, words=""):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"errors", "meta"}, body
    e = body["errors"][0]
    assert e["code"] == code, r.text
    assert words.lower() in e.get("details", "").lower(), r.text
    return e


def ok_empty(r):
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"meta"}, r.text


def snapshot(admin):
    """Everything a restore may change, as the API shows it."""
    out = {}
    for path in ("/v1/settings/application", "/v1/settings/profile/about",
                 "/v1/settings/business/profile", "/v1/certificates/webhooks/ca"):
        r = admin.get(path)
        out[path] = (r.status_code, r.content if path.endswith("/ca") else r.json().get("settings"))
    r = admin.get("/v1/settings/profile/photo")
    out["photo"] = (r.status_code, r.content if r.status_code == 200 else None)
    out["health"] = health(admin)
    return out


# What the API can't show: the key pair, the write-only webhook secret, the cert.
STORED = ("SELECT a.cc, a.phone_number, a.wa_id, a.vname, a.registered, a.two_step, a.cert,"
          " k.public_key, k.secret_key, s.overrides::text, (SELECT count(*) FROM account_pending)"
          " FROM account a, account_keys k, app_settings s")


def self_signed_ca():
    """A throwaway CA certificate (PEM) for POST /v1/certificates/webhooks/ca."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=backup-test-ca", "-keyout", d + "/k.pem", "-out", d + "/c.pem"],
                       check=True, capture_output=True, timeout=30)
        with open(d + "/c.pem") as f:
            return f.read()


# ---- the two installations -------------------------------------------------------

@pytest.fixture(scope="module")
def first(stack):
    """The first installation: registered, settings and profiles changed."""
    global CA_PEM
    admin = Api(stack)
    admin.admin_token()
    sb = Sandbox(stack)
    assert sb.patch("/settings", {"delivery_delay_ms": 0, "auto_read": False}).status_code == 200
    register(admin, sb, CC, NUMBER, "Acme Backup Co")
    ok_empty(admin.post("/v1/settings/account/two-step", json={"pin": "246810"}))
    ok_empty(admin.patch("/v1/settings/application", json=SETTINGS))
    ok_empty(admin.patch("/v1/settings/profile/about", json={"text": ABOUT}))
    ok_empty(admin.post("/v1/settings/business/profile", json=BUSINESS_PROFILE))
    ok_empty(admin.post("/v1/settings/profile/photo", data=PNG, headers={"Content-Type": "image/png"}))
    CA_PEM = self_signed_ca()
    r = admin.post("/v1/certificates/webhooks/ca", data=CA_PEM, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    return admin


@pytest.fixture(scope="module")
def second(stack):
    """A fresh installation whose coreapp uses the first one's sandbox (no sandbox of
    its own): the network that knows the business's registration and key."""
    st = Stack(extra_env={k: stack.env[k] for k in
                          ("WA_SANDBOX_ENDPOINT", "WA_SANDBOX_STATE_DIR", "WA_SANDBOX_CONTROL")})
    st.sandbox_control = stack.sandbox_control
    try:
        st.pg_start()
        st.start("coreapp")
        st.start("webapp")
        st.wait_ready()
        admin = Api(st)
        admin.admin_token()
        yield admin
    finally:
        st.teardown()


@pytest.fixture(scope="module")
def blob(first):
    r = first.post("/v1/settings/backup", json={"password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"settings", "meta"} and set(body["settings"]) == {"data"}, body
    return body["settings"]["data"]


def damaged(blob, fn):
    raw = bytearray(base64.b64decode(blob, validate=True))
    fn(raw)
    return base64.b64encode(bytes(raw)).decode()


# ---- tests -----------------------------------------------------------------------

def test_admin_only(first, stack):
    r = first.post("/v1/users", json={"username": "bak-user", "password": STRONG})
    assert r.status_code == 201, r.text
    user = Api(stack)
    user.login("bak-user", STRONG)
    error(user.post("/v1/settings/backup", json={"password": PASSWORD}), 403, 1005)
    error(user.post("/v1/settings/restore", json={"password": PASSWORD, "data": "V0FCSw=="}),
          403, 1005)
    error(Api(stack).post("/v1/settings/backup", json={"password": PASSWORD}), 401, 1005)
    assert not stack.log_contains("coreapp", "event=backup_made")


@pytest.mark.parametrize("path", ["/v1/settings/backup", "/v1/settings/restore"])
@pytest.mark.parametrize("body, status, code, words", [
    ({}, 400, 1008, "password is required"),
    ({"password": None}, 400, 1008, "password is required"),
    ({"password": 123456}, 400, 1009, "password must be a string"),
    ({"password": ["x"]}, 400, 1009, "password must be a string"),
    ({"password": ""}, 400, 1009, "password must not be empty"),
    ({"password": "x" * 1025}, 400, 1009, "at most 1024 bytes"),
    ({"password": PASSWORD, "passphrase": "x"}, 400, 1009, "unknown field: passphrase"),
])
def test_body_rules(first, path, body, status, code, words):
    if path.endswith("restore") and "password" in body and body["password"] == PASSWORD:
        body = dict(body, data="V0FCSw==")
    error(first.post(path, json=body), status, code, words)


def test_restore_data_rules(first):
    error(first.post("/v1/settings/restore", json={"password": PASSWORD}), 400, 1008,
          "data is required")
    for data in (1, ["x"], {"a": 1}, True):
        error(first.post("/v1/settings/restore", json={"password": PASSWORD, "data": data}),
              400, 1009, "data must be a string")


def test_backup_is_sealed(first, blob, stack):
    raw = base64.b64decode(blob, validate=True)
    # header: magic, version 1, scrypt, log2 N = 15, r = 8, p = 1, 16-byte salt, 12-byte nonce
    assert raw[:9] == b"WABK\x01\x01\x0f\x08\x01", raw[:9]
    assert len(raw) > 37 + 16
    for secret in (b"hmac-key", b"Restored", b"acme.example", b"16315550142", b"IHDR"):
        assert secret not in raw
    # a second backup of the same state is sealed with a fresh salt and nonce
    r = first.post("/v1/settings/backup", json={"password": PASSWORD})
    other = base64.b64decode(r.json()["settings"]["data"])
    assert other[9:37] != raw[9:37] and len(other) == len(raw)
    assert stack.log_contains("coreapp", "event=backup_made")
    assert PASSWORD not in stack.log_text("coreapp") and PASSWORD not in stack.log_text("webapp")


def test_refused_restores_change_nothing(second, blob):
    before = snapshot(second)
    assert before["health"] == "unregistered"
    cases = [
        ({"password": PASSWORD + "!", "data": blob}, "wrong password"),
        ({"password": PASSWORD.upper(), "data": blob}, "wrong password"),
        ({"password": PASSWORD, "data": blob[:-8]}, "wrong password"),       # truncated
        ({"password": PASSWORD, "data": blob[:-3]}, "not base64"),
        ({"password": PASSWORD, "data": blob[:40]}, "truncated"),
        ({"password": PASSWORD, "data": blob[:4]}, "too short"),
        ({"password": PASSWORD, "data": blob + "AAAA"}, "wrong password"),   # extended
        ({"password": PASSWORD, "data": "not base64 at all!"}, "not base64"),
        ({"password": PASSWORD, "data": ""}, "too short"),
        ({"password": PASSWORD, "data": blob.replace("=", "") + "\n"}, "not base64"),
        ({"password": PASSWORD, "data": damaged(blob, lambda b: b.__setitem__(4, 2))},
         "format version"),
        ({"password": PASSWORD, "data": damaged(blob, lambda b: b.__setitem__(0, ord("X")))},
         "not a backup"),
        ({"password": PASSWORD, "data": damaged(blob, lambda b: b.__setitem__(6, 40))},
         "key derivation parameters"),
    ]
    # single flipped bytes all over the blob: header, salt, nonce, ciphertext, tag
    n = len(base64.b64decode(blob))
    for i in sorted({5, 6, 7, 8, 9, 24, 25, 36, 37, 38, n // 2, n - 17, n - 16, n - 1}):
        cases.append(({"password": PASSWORD,
                       "data": damaged(blob, lambda b, i=i: b.__setitem__(i, b[i] ^ 0x01))}, ""))
    for body, words in cases:
        r = second.post("/v1/settings/restore", json=body)
        e = error(r, 400, 1009, words)
        assert "nothing was changed" in e["details"], e
    assert snapshot(second) == before


def test_database_failure_mid_restore_changes_nothing(second, blob):
    """The last section written (business_profile) fails in the database: the
    settings, account and keys written before it in the same statement are gone too."""
    before = snapshot(second)
    second.stack.psql("CREATE FUNCTION bak_fail() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;"
                       "CREATE TRIGGER bak_fail BEFORE INSERT OR UPDATE ON business_profile "
                       "FOR EACH ROW EXECUTE FUNCTION bak_fail()")
    try:
        r = second.post("/v1/settings/restore", json={"password": PASSWORD, "data": blob})
        e = error(r, 500, 1023, "nothing was changed")
    finally:
        second.stack.psql("DROP TRIGGER bak_fail ON business_profile; DROP FUNCTION bak_fail()")
    assert second.stack.psql("SELECT (SELECT count(*) FROM account) + (SELECT count(*) FROM "
                              "account_keys) + (SELECT count(*) FROM webhook_ca)") == "0", e
    assert second.stack.psql("SELECT overrides::text FROM app_settings") == "{}"
    assert snapshot(second) == before
    assert second.stack.log_contains("coreapp", "injected failure")


def test_restore_into_fresh_installation(first, second, blob, stack):
    sb = Sandbox(stack)
    want = snapshot(first)
    assert want["health"] == "connected"
    assert want["/v1/settings/application"][1]["application"]["wa_id"] == BUSINESS
    # The business moves: its old coreapp goes away, the network keeps its registration.
    # (The network gives the number to the session that said hello last; a running old
    # coreapp would say hello again and take it back.)
    stack.stop("coreapp")

    t0 = time.monotonic()
    ok_empty(second.post("/v1/settings/restore", json={"password": PASSWORD, "data": blob}))
    seen = wait_health(second, "connected", timeout=15)
    assert seen[0] in ("connecting", "connected"), seen     # the answer came after the reload
    assert time.monotonic() - t0 < 15
    biz = sb.get("/businesses/" + BUSINESS).json()
    profile = biz.pop("profile")    # what the coreapps pushed (test_profile_network.py)
    assert biz == {"wa_id": BUSINESS, "vname": "Acme Backup Co", "two_step": True,
                   "connected": True}, biz
    assert profile["about"] == ABOUT, profile

    got = snapshot(second)
    assert got == want, {k: (want[k], got[k]) for k in want if want[k] != got[k]}
    assert got["/v1/certificates/webhooks/ca"][1].decode().strip() == CA_PEM.strip()
    assert got["photo"] == (200, PNG)
    stored = second.stack.psql(STORED)
    assert stored == stack.psql(STORED) and "hmac-key-0123456789" in stored, stored
    # the running coreapp took the settings in (NOTIFY wa_settings), not just the database
    wait_for(lambda: second.stack.log_contains(
        "coreapp", "event=settings_changed webhooks_url_set=true"), 5, "the settings reload")
    # registering the same number again: already registered here, nothing to do
    r = second.post("/v1/account", json={"cc": CC, "phone_number": NUMBER, "method": "sms",
                                        "cert": sb.cert(CC, NUMBER, "Acme Backup Co")})
    assert r.status_code == 201, r.text

    # a message from the restored installation reaches the customer
    sb.customer(CUSTOMER, "Jane")
    r = sb.post("/customers/%s/messages" % CUSTOMER,
                {"to": BUSINESS, "type": "text", "text": {"body": "are you there?"}})
    assert r.status_code == 201, r.text          # opens the 24-hour window
    r = second.post("/v1/messages", json={"to": CUSTOMER, "type": "text",
                                          "text": {"body": "hello from the restored server"}})
    assert r.status_code == 201, r.text
    msg_id = r.json()["messages"][0]["id"]

    def received():
        msgs = sb.get("/customers/%s/messages" % CUSTOMER).json()["messages"]
        return [m for m in msgs if m["id"] == msg_id]
    m = wait_for(received, 15, "the customer to receive the message")[0]
    assert m["from"] == BUSINESS and m["type"] == "text", m
    assert m["text"] == {"body": "hello from the restored server"}, m
    assert m["status"] in ("delivered", "read"), m


def test_refused_restore_leaves_a_registered_installation_alone(second, blob):
    before = snapshot(second)
    assert before["health"] == "connected"
    error(second.post("/v1/settings/restore", json={"password": "nope", "data": blob}), 400, 1009,
          "wrong password")
    flipped = damaged(blob, lambda b: b.__setitem__(len(b) // 2, b[len(b) // 2] ^ 0x80))
    error(second.post("/v1/settings/restore", json={"password": PASSWORD, "data": flipped}),
          400, 1009, "wrong password, or the data was changed")
    assert snapshot(second) == before


def test_restore_again_and_backup_of_restored(second, blob):
    """Restoring the same blob twice is harmless, and the restored installation's own
    backup carries the same business (another password works as well)."""
    ok_empty(second.post("/v1/settings/restore", json={"password": PASSWORD, "data": blob}))
    wait_health(second, "connected", timeout=15)
    r = second.post("/v1/settings/backup", json={"password": "another \u00fcnicode p\u00e4ss"})
    assert r.status_code == 200, r.text
    again = r.json()["settings"]["data"]
    error(second.post("/v1/settings/restore", json={"password": PASSWORD, "data": again}),
          400, 1009, "wrong password")
    ok_empty(second.post("/v1/settings/restore",
                         json={"password": "another \u00fcnicode p\u00e4ss", "data": again}))
    assert wait_health(second, "connected", timeout=15)[-1] == "connected"


def seal(doc, password, log2_n=10, r=1, p=1):
    """The documented box format (common/sealbox.h), made independently of the server."""
    import hashlib
    import json
    import os
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    plain = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    salt, nonce = os.urandom(16), os.urandom(12)
    header = b"WABK" + bytes([1, 1, log2_n, r, p]) + salt + nonce
    key = hashlib.scrypt(password.encode(), salt=salt, n=1 << log2_n, r=r, p=p, dklen=32)
    return base64.b64encode(header + AESGCM(key).encrypt(nonce, plain, header)).decode()


def test_contents_are_checked_and_sections_may_be_absent(second):
    """Boxes sealed by the test with the right password: contents that are not a
    backup this server can read are refused (nothing changes); a backup without a
    registration (made before one) changes the settings and keeps the registration."""
    before = snapshot(second)
    assert before["health"] == "connected"
    good_account = {"cc": "1", "phone_number": "6315550142", "wa_id": BUSINESS, "vname": "X",
                    "cert": None, "two_step": False, "public_key": "a" * 40, "secret_key": "b" * 40}
    for doc, words in [
        (b"not json", "not a JSON object"),
        ([1, 2], "not a JSON object"),
        ({"format": 2, "settings": {}}, "format"),
        ({"settings": {}}, "format"),
        ({"format": 1}, "settings"),
        ({"format": 1, "settings": []}, "settings"),
        ({"format": 1, "settings": {}, "webhook_ca": 5}, "webhook_ca"),
        ({"format": 1, "settings": {}, "account": "x"}, "account"),
        ({"format": 1, "settings": {}, "account": dict(good_account, public_key="short")},
         "account keys"),
        ({"format": 1, "settings": {}, "account": dict(good_account, cc="+1")}, "account number"),
        ({"format": 1, "settings": {}, "account": dict(good_account, two_step="no")},
         "account fields"),
        ({"format": 1, "settings": {}, "profile": {"about": "a", "photo": "AAAA",
                                                   "photo_type": "image/png"}}, "profile photo"),
        ({"format": 1, "settings": {}, "profile": {"about": 7}}, "profile about"),
        ({"format": 1, "settings": {}, "business_profile": {"address": "a"}}, "business_profile"),
    ]:
        r = second.post("/v1/settings/restore", json={"password": "pw", "data": seal(doc, "pw")})
        e = error(r, 400, 1009, words)
        assert "invalid backup" in e["details"] and "nothing was changed" in e["details"], e
    assert snapshot(second) == before

    ok_empty(second.post("/v1/settings/restore", json={"password": "pw", "data": seal(
        {"format": 1, "settings": {"callback_backoff_delay_ms": 7000}, "webhook_ca": None,
         "account": None}, "pw")}))
    app = second.get("/v1/settings/application").json()["settings"]["application"]
    assert app["callback_backoff_delay_ms"] == 7000 and app["wa_id"] == BUSINESS, app
    assert app["webhooks"]["url"] == ""                      # everything else: defaults
    assert second.get("/v1/certificates/webhooks/ca").status_code == 404
    after = snapshot(second)
    for same in ("/v1/settings/profile/about", "/v1/settings/business/profile", "photo", "health"):
        assert after[same] == before[same], same


def test_key_derivation_does_not_stop_the_coreapp(second, blob):
    """scrypt runs on the coreapp's offload thread: with the heaviest parameters a
    header may ask for (log2 N = 18, r = 7: ~230 MiB, about a second), a health check
    sent after the restore started is answered before the restore is."""
    forged = damaged(blob, lambda b: (b.__setitem__(6, 18), b.__setitem__(7, 7)))
    done = {}

    def restore():
        done["restore"] = (second.post("/v1/settings/restore",
                                       json={"password": PASSWORD, "data": forged}),
                           time.monotonic())

    t = threading.Thread(target=restore)
    t.start()
    time.sleep(0.2)                       # the restore is in the coreapp by now
    r = second.get("/v1/health", apikey=True)
    health_at = time.monotonic()
    t.join(60)
    assert r.status_code == 200, r.text
    answer, restore_at = done["restore"]
    error(answer, 400, 1009, "wrong password")
    assert health_at < restore_at, "the health check waited for the key derivation"
