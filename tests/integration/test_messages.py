"""POST /v1/messages and PUT /v1/messages/{id} through the real stack (issue 4):
every type accepted, every validation rule refused with its code (the same
tests/cases/messages/ table as the unit test), statuses and receipts from the
sandbox network, inbound messages, group commit seen in PostgreSQL's
statistics, and no acknowledged message lost to kill -9 or a database outage.

The business registers as +1 631-555-0100 through the API and the sandbox, as
the unit test's cases assume."""
import concurrent.futures
import json
import os
import re
import subprocess
import threading
import time

import pytest
import requests

from stack import REPO, wait_for

CASES = os.path.join(REPO, "tests", "cases", "messages")
CC, NUMBER = "1", "6315550100"
BUSINESS = CC + NUMBER
CUSTOMER = "16315551234"          # the cases' recipient; on WhatsApp, window open
FOREIGN = "447911123456"          # a wa_id of another country (ok_text_foreign_wa_id)
NOT_ON_WA = "16315559999"         # a valid number whose owner is not on WhatsApp
CLOSED = "16315557777"            # on WhatsApp, never wrote to us: no 24-hour window
ID_RE = re.compile(r"^gBEG[A-Za-z0-9_-]{23}$")
PSQL = "/usr/bin/psql"
PG_WALDUMP = "/usr/lib/postgresql/15/bin/pg_waldump"
TEMPLATE = {"namespace": "acme_ns", "name": "order_ready", "language": "en",
            "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} is ready"}]}


def cases(prefix):
    names = sorted(n for n in os.listdir(CASES) if n.startswith(prefix))
    out = []
    for n in names:
        with open(os.path.join(CASES, n, "input.json"), encoding="utf-8") as f:
            body = json.load(f)
        with open(os.path.join(CASES, n, "expected")) as f:
            expected = f.read().split()
        out.append(pytest.param(body, expected, id=n))
    return out


def sandbox(stack, method, path, body=None, status=None):
    r = requests.request(method, stack.sandbox_url(path), json=body, timeout=10)
    if status is not None:
        assert r.status_code == status, "%s %s: %d %s" % (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def error_of(r, status, code):
    assert r.status_code == status, "%d %s" % (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"errors", "meta"}, body
    assert len(body["errors"]) == 1, body
    e = body["errors"][0]
    assert e["code"] == code, body
    return e


def row(stack, msg_id, cols="status"):
    return stack.psql("SELECT %s FROM messages WHERE id = '%s'" % (cols, msg_id))


def send_ok(api, body):
    r = api.post("/v1/messages", json=body)
    assert r.status_code == 201, "%d %s" % (r.status_code, r.text)
    out = r.json()
    assert set(out) == {"messages", "meta"}, out
    assert len(out["messages"]) == 1 and set(out["messages"][0]) == {"id"}, out
    msg_id = out["messages"][0]["id"]
    assert ID_RE.match(msg_id), msg_id
    return msg_id


def text(to, body="hello"):
    return {"to": to, "type": "text", "text": {"body": body}}


# ---- before registration (runs first: the module's stack is fresh) ---------------

def test_send_before_registration_is_service_not_ready(api, stack):
    api.admin_token()
    e = error_of(api.post("/v1/messages", json=text(CUSTOMER)), 503, 1011)
    assert "registered" in e["details"]
    assert stack.psql("SELECT count(*) FROM messages") == "0"


# ---- a registered business -------------------------------------------------------

@pytest.fixture(scope="module")
def user(stack):
    """An API client of a registered business whose network link is up, with
    customers set up in the sandbox and webhooks pointing at a closed port so
    that queued callbacks stay in wa_callbacks for the tests to read."""
    from conftest import Api
    api = Api(stack)
    api.admin_token()
    sandbox(stack, "PATCH", "/settings", {"delivery_delay_ms": 0, "auto_read": False}, 200)
    cert = sandbox(stack, "POST", "/certs", {"cc": CC, "phone_number": NUMBER, "vname": "Acme"},
                   201)["cert"]
    r = api.post("/v1/account", json={"cc": CC, "phone_number": NUMBER, "method": "sms",
                                      "cert": cert})
    assert r.status_code in (201, 202), r.text
    if r.status_code == 202:
        code = sandbox(stack, "GET", "/registrations/" + BUSINESS, None, 200)["code"]
        r = api.post("/v1/account/verify", json={"code": code})
        assert r.status_code == 201, r.text
    wait_for(lambda: api.get("/v1/health").json().get("health", {}).get("gateway_status")
             == "connected", 20, "the network link")
    closed = free_closed_port()
    r = api.patch("/v1/settings/application",
                  json={"webhooks": {"url": "https://127.0.0.1:%d/hook" % closed}})
    assert r.status_code == 200, r.text
    for wa_id, on in ((CUSTOMER, True), (FOREIGN, True), (NOT_ON_WA, False), (CLOSED, True)):
        sandbox(stack, "POST", "/customers", {"wa_id": wa_id, "name": "C" + wa_id[-4:],
                                              "on_whatsapp": on}, 201)
    for wa_id in (CUSTOMER, FOREIGN):       # opens their 24-hour windows
        sandbox(stack, "POST", "/customers/%s/messages" % wa_id,
                {"to": BUSINESS, "type": "text", "text": {"body": "hi"}}, 201)
    sandbox(stack, "POST", "/templates", TEMPLATE, 201)
    return api


def free_closed_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("body,expected", cases("ok_"))
def test_every_type_is_accepted_with_an_id(user, stack, body, expected):
    _, type_, to = expected
    msg_id = send_ok(user, body)
    got = row(stack, msg_id, "direction, type, peer, recipient_type, status IN ('accepted', "
                             "'sent', 'delivered', 'read', 'failed'), payload->>'type'")
    rtype = "group" if body.get("recipient_type") == "group" else "individual"
    assert got == "outbound|%s|%s|%s|t|%s" % (type_, to, rtype, type_), got
    # the stored payload is the body as sent (plus the defaulted type)
    stored = json.loads(row(stack, msg_id, "payload"))
    assert stored == dict(body, type=type_)


def test_ids_sort_in_the_order_they_were_made(user, stack):
    """Ids begin with their creation time (docs/compat-messages.md): ids made later sort
    later byte by byte (the database's primary key, COLLATE "C", grows at one end), and the
    random rest keeps ids made in the same millisecond apart."""
    later = []
    for _ in range(5):
        later.append(send_ok(user, text(CUSTOMER)))
        time.sleep(0.002)
    assert later == sorted(later) and len(set(later)) == 5, later
    assert stack.psql("SELECT string_agg(id, ',' ORDER BY id) FROM messages WHERE id IN (%s)"
                      % ",".join("'%s'" % i for i in later)) == ",".join(later)
    sessions = threading.local()

    def one(_):                 # a session per thread, as requests' sessions are not shared
        if not hasattr(sessions, "api"):
            sessions.api = user.as_token(user.session.headers["Authorization"][7:])
        return send_ok(sessions.api, text(CUSTOMER))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:       # same millisecond: unique
        burst = list(pool.map(one, range(40)))
    assert len(set(burst)) == 40 and min(burst) > max(later)


@pytest.mark.parametrize("body,expected", cases("bad_"))
def test_every_rule_is_refused_with_its_code(user, stack, body, expected):
    code, field = int(expected[0]), expected[1]
    before = stack.psql("SELECT count(*) FROM messages WHERE direction = 'outbound'")
    e = error_of(user.post("/v1/messages", json=body), 400, code)
    assert e["details"].startswith(field + ": "), e
    assert stack.psql("SELECT count(*) FROM messages WHERE direction = 'outbound'") == before


def test_types_reach_the_customer_as_sent(user, stack):
    """The sandbox's view: what the customer got is the object the business sent."""
    sent = {}
    for name in ("ok_text", "ok_location", "ok_contacts", "ok_interactive_list",
                 "ok_interactive_button", "ok_interactive_product_list", "ok_image_link",
                 "ok_document_provider", "ok_text_context_reply"):
        with open(os.path.join(CASES, name, "input.json"), encoding="utf-8") as f:
            body = json.load(f)
        sent[send_ok(user, body)] = body

    def received():
        got = {m["id"]: m for m in sandbox(stack, "GET", "/customers/%s/messages" % CUSTOMER,
                                           None, 200)["messages"]}
        return got if set(sent) <= set(got) else None
    got = wait_for(received, 15, "the customer to receive every message")
    for msg_id, body in sent.items():
        m = got[msg_id]
        assert m["type"] == body["type"] and m[body["type"]] == body[body["type"]], m
        assert m["from"] == BUSINESS
    wait_for(lambda: all(row(stack, i) == "delivered" for i in sent), 10, "delivered statuses")


def test_statuses_receipts_and_callbacks(user, stack):
    msg_id = send_ok(user, text(CUSTOMER, "status walk"))
    wait_for(lambda: row(stack, msg_id) == "delivered", 10, "delivered")
    sandbox(stack, "POST", "/customers/%s/read" % CUSTOMER, {"id": msg_id}, 200)
    wait_for(lambda: row(stack, msg_id) == "read", 10, "read")
    assert row(stack, msg_id, "sent_at IS NOT NULL AND delivered_at IS NOT NULL AND read_at"
                              " IS NOT NULL AND sent_at <= delivered_at AND delivered_at <= read_at"
                              " AND error_code IS NULL") == "t"
    # one status callback per step, queued with it (the URL is unreachable, so they wait)
    bodies = [json.loads(b) for b in stack.psql(
        "SELECT body FROM wa_callbacks WHERE kind = 'status_change' AND body LIKE '%%%s%%'"
               " ORDER BY id" % msg_id).splitlines()]
    assert [b["statuses"][0]["status"] for b in bodies] == ["sent", "delivered", "read"]
    for b in bodies:
        assert set(b) == {"statuses"} and len(b["statuses"]) == 1
        st = b["statuses"][0]
        assert st["id"] == msg_id and st["recipient_id"] == CUSTOMER
        assert re.match(r"^\d{10}$", st["timestamp"]), st
    # a repeated read changes nothing: no new timestamp, no second callback
    read_at = row(stack, msg_id, "read_at")
    sandbox(stack, "POST", "/customers/%s/read" % CUSTOMER, {"id": msg_id}, 200)
    time.sleep(0.3)
    assert row(stack, msg_id, "read_at") == read_at
    assert stack.psql("SELECT count(*) FROM wa_callbacks WHERE kind = 'status_change'"
                       " AND body LIKE '%%%s%%'" % msg_id) == "3"


def failed_with(stack, msg_id, code):
    def check():
        return row(stack, msg_id, "status, error_code") == "failed|%d" % code
    wait_for(check, 10, "failed with %d" % code)
    assert row(stack, msg_id, "failed_at IS NOT NULL AND error_title <> ''") == "t"
    cb = stack.psql("SELECT body FROM wa_callbacks WHERE kind = 'status_change' AND body LIKE"
                     " '%%%s%%'" % msg_id)
    st = json.loads(cb)["statuses"][0]
    assert st["status"] == "failed" and st["errors"][0]["code"] == code, st


def test_failures_are_statuses_with_the_documented_codes(user, stack):
    # not on WhatsApp: accepted, then failed 1013 (CLARIFICATIONS §3)
    failed_with(stack, send_ok(user, text(NOT_ON_WA)), 1013)
    # outside the 24-hour window: 470; a template goes through
    failed_with(stack, send_ok(user, text(CLOSED)), 470)
    tpl = {"namespace": TEMPLATE["namespace"], "name": TEMPLATE["name"],
           "language": {"policy": "deterministic", "code": "en"},
           "components": [{"type": "body", "parameters": [{"type": "text", "text": "Jane"},
                                                         {"type": "text", "text": "42"}]}]}
    ok = send_ok(user, {"to": CLOSED, "type": "template", "template": tpl})
    wait_for(lambda: row(stack, ok) == "delivered", 10, "template delivered")
    # template problems only the network can see: 2001 unknown, 2000 count
    failed_with(stack, send_ok(user, {"to": CLOSED, "type": "template",
                                      "template": dict(tpl, name="no_such_template")}), 2001)
    one_param = dict(tpl, components=[{"type": "body", "parameters": [
        {"type": "text", "text": "Jane"}]}])
    failed_with(stack, send_ok(user, {"to": CLOSED, "type": "template", "template": one_param}),
                2000)


def test_inbound_message_and_mark_as_read(user, stack):
    inbound = sandbox(stack, "POST", "/customers/%s/messages" % CUSTOMER,
                      {"to": BUSINESS, "type": "text", "text": {"body": "read me"}}, 201)["id"]
    wait_for(lambda: row(stack, inbound, "direction, status, peer") ==
             "inbound|received|" + CUSTOMER, 10, "the inbound message")
    cb = json.loads(stack.psql("SELECT body FROM wa_callbacks WHERE kind = 'inbound_message'"
                                " AND body LIKE '%%%s%%'" % inbound))
    assert cb["messages"][0]["id"] == inbound and cb["messages"][0]["text"] == {"body": "read me"}
    assert cb["contacts"][0]["wa_id"] == CUSTOMER
    assert "contact" not in cb["messages"][0]

    r = user.put("/v1/messages/" + inbound, json={"status": "read"})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"meta"}
    assert row(stack, inbound, "status, read_at IS NOT NULL") == "read|t"
    wait_for(lambda: row(stack, inbound, "read_receipt") == "sent", 10, "the read receipt")
    r = user.put("/v1/messages/" + inbound, json={"status": "read"})          # again: fine
    assert r.status_code == 200, r.text

    e = error_of(user.put("/v1/messages/gBEGnotAnIdWeKnowAtAll00", json={"status": "read"}),
                 404, 1006)
    assert "gBEGnotAnIdWeKnowAtAll00" in e["details"]
    out = send_ok(user, text(CUSTOMER))
    e = error_of(user.put("/v1/messages/" + out, json={"status": "read"}), 400, 1009)
    assert "outbound" in e["details"]
    e = error_of(user.put("/v1/messages/" + inbound, json={"status": "delivered"}), 400, 1009)
    assert e["details"].startswith("status:")
    e = error_of(user.put("/v1/messages/" + inbound, json={}), 400, 1008)
    assert e["details"].startswith("status:")


def wal_lsn(stack):
    return stack.psql("SELECT pg_current_wal_flush_lsn()")


def wal_commits(stack, start, end):
    """Commit records PostgreSQL wrote between two WAL positions: one per
    transaction that wrote anything, i.e. one per WAL flush at commit."""
    r = subprocess.run([PG_WALDUMP, "-p", os.path.join(stack.pg_dir, "data", "pg_wal"),
                        "-s", start, "-e", end, "-r", "Transaction"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return sum(1 for line in r.stdout.splitlines() if "desc: COMMIT" in line)


def test_group_commit_shares_transactions(user, stack):
    """Sends that arrive while a commit is in progress share the next one.

    Counted in PostgreSQL's write-ahead log: its commit records between the
    burst's start and end (pg_stat_database.xact_commit also counts every
    read-only transaction of every session, so it blurs the picture).
    A commit on this loopback test cluster takes a fraction of a millisecond,
    less than the gap between two requests of Python clients, so the test
    plays a slow disk: a side session keeps the messages table locked in
    back-to-back slices of 400 ms while 32 clients send (LOCK writes nothing,
    so those slices add no commit records). Without group commit every send
    would still be its own commit. The network is stopped, callbacks are off
    and autovacuum pauses meanwhile, so that the sends' inserts are the only
    writes."""
    n, threads = 256, 32
    sessions = threading.local()
    done = threading.Event()

    def one(i):
        if not hasattr(sessions, "api"):
            sessions.api = user.as_token(user.session.headers["Authorization"][7:])
        return send_ok(sessions.api, text(CUSTOMER, "burst %d" % i))

    def slow_disk():
        """One session locking the table in back-to-back 400 ms transactions;
        between two of them only the insert already waiting gets through."""
        locker = subprocess.Popen([PSQL, "-X", "-q", "-h", "127.0.0.1", "-p", str(stack.pg_port),
                                   "-U", "wa", "-d", "wa", "-v", "ON_ERROR_STOP=1"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            while not done.is_set():
                locker.stdin.write("BEGIN; LOCK TABLE messages IN EXCLUSIVE MODE;"
                                   " SELECT pg_sleep(0.4); COMMIT;\n")
                locker.stdin.flush()
                time.sleep(0.4)
        finally:
            locker.stdin.close()
            assert locker.wait(30) == 0

    url = user.get("/v1/settings/application").json()["settings"]["application"]["webhooks"]["url"]
    assert user.patch("/v1/settings/application", json={"webhooks": {"url": ""}}).status_code == 200
    stack.stop("sandbox")
    stack.psql("ALTER SYSTEM SET autovacuum = off")
    stack.psql("SELECT pg_reload_conf()")
    try:
        start = wal_lsn(stack)
        with concurrent.futures.ThreadPoolExecutor(threads + 1) as pool:
            locker = pool.submit(slow_disk)
            try:
                ids = list(pool.map(one, range(n)))
            finally:
                done.set()
            locker.result()
        end = wal_lsn(stack)
    finally:
        stack.psql("ALTER SYSTEM RESET autovacuum")
        stack.psql("SELECT pg_reload_conf()")
        stack.start("sandbox")
        assert user.patch("/v1/settings/application",
                          json={"webhooks": {"url": url}}).status_code == 200
    assert len(set(ids)) == n
    assert stack.psql("SELECT count(*) FROM messages WHERE id IN (%s)"
                % ",".join("'%s'" % i for i in ids)) == str(n)
    commits = wal_commits(stack, start, end)
    batches = [int(m) for m in re.findall(r"event=messages_committed count=(\d+)",
                                          stack.log_text("coreapp"))]
    print("\n%d sends from %d clients: %d commit records in the WAL" % (n, threads, commits))
    assert 0 < commits < n / 4, "%d commits for %d sends: no group commit" % (commits, n)
    assert max(batches) > 1
    # once the network is back, the messages it missed go out
    wait_for(lambda: stack.psql("SELECT count(*) FROM messages WHERE status = 'accepted' AND id IN"
                                 " (%s)" % ",".join("'%s'" % i for i in ids)) == "0", 30,
             "the burst to be sent after the network came back")


def test_database_error_is_not_acknowledged(user, stack):
    before = stack.psql("SELECT count(*) FROM messages")
    stack.psql("CREATE FUNCTION msg_test_fail() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;"
                " CREATE TRIGGER msg_test_fail BEFORE INSERT ON messages"
                " FOR EACH STATEMENT EXECUTE FUNCTION msg_test_fail()")
    try:
        e = error_of(user.post("/v1/messages", json=text(CUSTOMER)), 500, 1023)
        assert "not accepted" in e["details"]
    finally:
        stack.psql("DROP TRIGGER msg_test_fail ON messages; DROP FUNCTION msg_test_fail()")
    assert stack.psql("SELECT count(*) FROM messages") == before
    send_ok(user, text(CUSTOMER))


def test_database_outage(user, stack):
    stack.pg_stop()
    try:
        error_of(user.post("/v1/messages", json=text(CUSTOMER, "during outage")), 500, 1023)
        time.sleep(3)           # the reconnection back-off grows to its 2 s cap
    finally:
        stack.pg_start()
    # the first send after the restart is accepted: the coreapp connects again
    # when asked, not at the back-off's next attempt
    msg_id = send_ok(user, text(CUSTOMER, "after outage"))
    assert stack.psql("SELECT count(*) FROM messages WHERE payload->'text'->>'body'"
                       " = 'during outage'") == "0"
    wait_for(lambda: row(stack, msg_id) == "delivered", 15, "delivery after the outage")


def test_kill9_during_a_burst_loses_no_acknowledged_message(user, stack):
    acked, lock, stop = [], threading.Lock(), threading.Event()
    token = user.session.headers["Authorization"][7:]

    def sender(k):
        api = user.as_token(token)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                r = api.post("/v1/messages", json=text(CUSTOMER, "kill %d.%d" % (k, i)),
                             timeout=5)
            except requests.RequestException:
                continue
            if r.status_code == 201:
                with lock:
                    acked.append(r.json()["messages"][0]["id"])

    pool = [threading.Thread(target=sender, args=(k,)) for k in range(16)]
    for t in pool:
        t.start()
    try:
        wait_for(lambda: len(acked) >= 200, 20, "a burst in progress")
        stack.kill9("coreapp")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in pool:
            t.join(10)
    stack.start("coreapp")
    wait_for(lambda: user.get("/v1/health", apikey=True).status_code == 200, 20, "coreapp")
    ids = ",".join("'%s'" % i for i in acked)
    assert stack.psql("SELECT count(*) FROM messages WHERE id IN (%s)" % ids) == str(len(acked))
    # and, resubmitted after the restart, every one of them reaches the network
    wait_for(lambda: stack.psql("SELECT count(*) FROM messages WHERE id IN (%s) AND status"
                                 " IN ('accepted')" % ids) == "0", 30,
             "every acknowledged message to be sent")
    assert stack.log_contains("coreapp", "event=messages_resubmitted")


def test_statuses_without_webhooks_are_recorded_per_message_in_shared_statements(user, stack):
    """With no webhook, a status batch goes to PostgreSQL as ids with the index
    of their group (the distinct status, times and error): delivered and
    failed with two different codes, from concurrent sends that share
    batches, each land on their own message."""
    r = user.patch("/v1/settings/application", json={"webhooks": {"url": ""}})
    assert r.status_code == 200, r.text
    try:
        plan = [CUSTOMER, FOREIGN, NOT_ON_WA, CLOSED] * 12
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(lambda to: send_ok(user, text(to, "grouped")), plan))
        expect = {CUSTOMER: "delivered|", FOREIGN: "delivered|", NOT_ON_WA: "failed|1013",
                  CLOSED: "failed|470"}

        def recorded():
            return all(row(stack, i, "status, error_code") == expect[to]
                       for i, to in zip(ids, plan))
        wait_for(recorded, 15, "every status on its own message")
        for i, to in zip(ids, plan):
            if expect[to].startswith("failed"):
                assert row(stack, i, "failed_at IS NOT NULL AND error_title <> '' AND"
                                     " delivered_at IS NULL") == "t"
            else:
                assert row(stack, i, "sent_at IS NOT NULL AND delivered_at IS NOT NULL AND"
                                     " failed_at IS NULL AND error_title IS NULL") == "t"
        # a later read moves one message on, and only that one
        sandbox(stack, "POST", "/customers/%s/read" % CUSTOMER, {"id": ids[0]}, 200)
        wait_for(lambda: row(stack, ids[0]) == "read", 10, "read")
        assert row(stack, ids[4]) == "delivered"
        # and no callback was queued for any of them
        assert stack.psql("SELECT count(*) FROM wa_callbacks WHERE body LIKE '%%grouped%%' OR "
                          + " OR ".join("body LIKE '%%%s%%'" % i for i in ids)) == "0"
    finally:
        closed = free_closed_port()
        r = user.patch("/v1/settings/application",
                       json={"webhooks": {"url": "https://127.0.0.1:%d/hook" % closed}})
        assert r.status_code == 200, r.text
