"""Nothing acknowledged is ever lost, nothing is sent twice: a continuous burst of
POST /v1/messages while each process in turn is killed with SIGKILL and
PostgreSQL is restarted; afterwards the sandbox customer has received every
acknowledged message exactly once (issue 4, "Durability")."""
import collections
import threading
import time

import requests

from sandbox_client import Sandbox, health, register, wait_health
from stack import wait_for

CUSTOMER = "16315553001"


def test_every_acknowledged_message_arrives_exactly_once(api, stack):
    sb = Sandbox(stack)
    token = api.admin_token()
    admin = api.as_token(token)
    register(admin, sb)
    sb.patch("/settings", {"delivery_delay_ms": 0, "auto_read": False})
    sb.customer(CUSTOMER, "Durable")
    r = sb.post("/customers/%s/messages" % CUSTOMER,
                {"to": "16315550100", "type": "text", "text": {"body": "hello"}})
    assert r.status_code == 201, r.text

    acked, refused, lock, stop = [], collections.Counter(), threading.Lock(), threading.Event()

    def sender(k):
        client, i = admin.as_token(token), 0
        while not stop.is_set():
            i += 1
            try:
                r = client.post("/v1/messages", timeout=5, json={
                    "to": CUSTOMER, "type": "text", "text": {"body": "durable %d.%d" % (k, i)}})
            except requests.RequestException:
                with lock:
                    refused["connection"] += 1
                time.sleep(0.05)
                continue
            with lock:
                if r.status_code == 201:
                    acked.append(r.json()["messages"][0]["id"])
                else:       # not acknowledged: must say so in the envelope
                    refused[r.json()["errors"][0]["code"]] += 1
            if r.status_code != 201:
                time.sleep(0.05)

    def burst_until(n):
        wait_for(lambda: len(acked) >= n, 30, "%d acknowledged sends" % n)

    pool = [threading.Thread(target=sender, args=(k,)) for k in range(12)]
    for t in pool:
        t.start()
    try:
        burst_until(150)
        for name in ("coreapp", "sandbox", "webapp"):
            stack.kill9(name)
            time.sleep(0.3)
            stack.start(name)
            burst_until(len(acked) + 150)
        stack.pg_restart()
        burst_until(len(acked) + 150)
    finally:
        stop.set()
        for t in pool:
            t.join(15)
    assert not stack.dead(), stack.logs_tail()
    assert set(refused) <= {"connection", 1011, 1023}, refused

    def received():
        r = sb.get("/customers/%s/messages" % CUSTOMER, timeout=30)
        return collections.Counter(m["id"] for m in r.json()["messages"])

    want = set(acked)
    assert len(want) == len(acked)          # ids are unique
    got = wait_for(lambda: (lambda c: c if want <= set(c) else None)(received()), 60,
                   "every acknowledged message at the customer")
    twice = [i for i, n in got.items() if n > 1]
    assert twice == [], "delivered more than once: %s" % twice[:10]
    # the business's own record agrees: none of them is still waiting to be sent. The
    # network's statuses for the last ones may still be on their way (the coreapp
    # records statuses at most every 10 ms), hence a short wait rather than one look.
    def pending_messages():
        r = admin.get("/v1/stats/db", apikey=True)
        return r.json()["stats"]["db"]["db_pending_messages"]["data"][0]["value"] \
            if r.status_code == 200 else None
    wait_for(lambda: pending_messages() == 0, 10, "no message left waiting to be sent")
    # and every delivery the network kept for the business, across its own kill and the
    # coreapp's, is recorded: each acknowledged message ends delivered (or read)
    ids = ",".join("'%s'" % i for i in want)
    wait_for(lambda: stack.psql("SELECT count(*) FROM messages WHERE id IN (%s)"
                                " AND status IN ('delivered', 'read')" % ids) == str(len(want)),
             30, "every acknowledged message recorded as delivered")


def _registered_with_a_customer(api, stack, customer):
    """The sandbox and an admin client, the business registered (if it was not yet), the
    network delivering at once, and customer's window open. Returns (sandbox, admin)."""
    sb = Sandbox(stack)
    admin = api.as_token(api.admin_token())
    if health(admin) != "connected":
        register(admin, sb)
    sb.patch("/settings", {"delivery_delay_ms": 0, "auto_read": False})
    sb.customer(customer, "Customer")
    assert sb.post("/customers/%s/messages" % customer,
                   {"to": "16315550100", "type": "text", "text": {"body": "hi"}}).status_code == 201
    return sb, admin


def _sender(admin, customer):
    """send(body): a text to customer, acknowledged; returns its id."""
    def send(body):
        r = admin.post("/v1/messages", json={"to": customer, "type": "text",
                                             "text": {"body": body}})
        assert r.status_code == 201, r.text
        return r.json()["messages"][0]["id"]
    return send


def test_the_network_forgets_only_what_the_business_has_recorded(api, stack):
    """The sandbox remembers at most keep_messages messages, but never forgets one
    whose first status the business has not recorded: after a crash the coreapp sends
    such a message again, and only a known id is recognised as a duplicate."""
    customer = "16315553002"
    sb, admin = _registered_with_a_customer(api, stack, customer)
    send = _sender(admin, customer)

    def received():
        return [m["id"] for m in sb.get("/customers/%s/messages" % customer).json()["messages"]]

    def statuses(ids):
        return stack.psql("SELECT string_agg(status, ',' ORDER BY seq) FROM messages"
                          " WHERE id IN (%s)" % ",".join("'%s'" % i for i in ids))

    before = sb.stats()["messages"]
    assert sb.patch("/settings", {"keep_messages": 1}).status_code == 200
    # while this constraint stands, the coreapp can't record a status (it retries)
    stack.psql("ALTER TABLE messages ADD CONSTRAINT test_no_status"
               " CHECK (status NOT IN ('sent', 'delivered')) NOT VALID")
    try:
        ids = [send("first"), send("second")]
        # both delivered; the first is remembered beyond keep_messages, its status unrecorded
        wait_for(lambda: received() == ids, 10, "both messages at the customer")
        time.sleep(0.5)
        assert received() == ids
        assert statuses(ids) == "accepted,accepted"
        stack.kill9("coreapp")
    finally:
        stack.psql("ALTER TABLE messages DROP CONSTRAINT IF EXISTS test_no_status")
    try:
        stack.start("coreapp")
        # the coreapp sends both again; the network knows them: nothing arrives twice
        wait_for(lambda: statuses(ids) == "delivered,delivered", 30, "statuses recorded")
        # recorded now, so the older one may be forgotten: only the newest one is kept
        wait_for(lambda: received() == ids[1:], 10, "the first forgotten")
        now = sb.stats()["messages"]
        assert (now["received"] - before["received"], now["delivered"] - before["delivered"]) == (2, 2)
        third = send("third")
        wait_for(lambda: received() == [third], 10, "the older two forgotten")
        after = sb.stats()["messages"]
        assert after["received"] - before["received"] == 3
        assert after["delivered"] - before["delivered"] == 3
    finally:
        assert sb.patch("/settings", {"keep_messages": 50000}).status_code == 200


def test_a_long_outage_holds_few_messages_in_memory_and_loses_none(api, stack):
    """WA_OUTBOX_MEMORY_MAX: while the network is down the coreapp holds at most that many
    messages for it; the rest wait in the database and follow, in order, once it is back."""
    customer = "16315553003"
    sb, admin = _registered_with_a_customer(api, stack, customer)
    stack.stop("coreapp")
    stack.start("coreapp", env={"WA_OUTBOX_MEMORY_MAX": "5"})
    try:
        wait_health(admin, "connected", 20)
        stack.stop("sandbox")
        ids = []
        for i in range(40):
            r = admin.post("/v1/messages", json={"to": customer, "type": "text",
                                                 "text": {"body": "queued %d" % i}})
            assert r.status_code == 201, r.text
            ids.append(r.json()["messages"][0]["id"])
        wait_for(lambda: stack.log_contains("coreapp", "event=outbox_spilled"), 5, "spilled")
        stack.start("sandbox")

        def received():
            try:
                r = sb.get("/customers/%s/messages" % customer)
            except requests.RequestException:
                return []                       # not listening yet
            return [x["id"] for x in r.json()["messages"]]

        got = wait_for(lambda: (lambda m: m if len(m) >= 40 else None)(received()), 30,
                       "all 40 at the customer")
        assert got == ids                       # each once, in the order they were sent
        assert stack.log_contains("coreapp", "event=outbox_caught_up")
        # and sends go straight to the network again
        r = admin.post("/v1/messages", json={"to": customer, "type": "text",
                                             "text": {"body": "after"}})
        assert r.status_code == 201, r.text
        last = r.json()["messages"][0]["id"]
        wait_for(lambda: received()[-1:] == [last], 10, "the next message")
    finally:
        if not stack.running("sandbox"):
            stack.start("sandbox")
        stack.stop("coreapp")
        stack.start("coreapp")
        wait_health(admin, "connected", 20)


def _watermark(stack):
    return int(stack.psql("SELECT seq FROM outbox_watermark"))


def test_the_outbox_watermark_stays_below_every_unsent_message(api, stack):
    """The outbox scan after a restart starts at a watermark (sql/012) instead of an index
    on status. The watermark moves past messages whose status is recorded, never past one
    still waiting for the network, even while newer ones are recorded; after a SIGKILL the
    waiting ones are sent, once each. And recording a status does not touch the indexes
    (a HOT update), which is what the watermark is for."""
    customer = "16315553004"
    sb, admin = _registered_with_a_customer(api, stack, customer)
    send = _sender(admin, customer)

    def seqs(ids):
        return [int(x) for x in stack.psql(
            "SELECT seq FROM messages WHERE id IN (%s) ORDER BY seq"
            % ",".join("'%s'" % i for i in ids)).split()]

    def hot():
        row = stack.psql("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                         " WHERE relname = 'messages'")
        return [int(x) for x in row.split("|")]

    upd0, hot0 = hot()
    recorded = [send("recorded %d" % i) for i in range(30)]
    wait_for(lambda: stack.psql("SELECT count(*) FROM messages WHERE id IN (%s) AND status"
                                " = 'delivered'" % ",".join("'%s'" % i for i in recorded))
             == "30", 10, "30 statuses recorded")
    wait_for(lambda: _watermark(stack) >= seqs(recorded)[-1], 5, "the watermark past them")
    # statistics reach the view within a second or so of each statement
    upd, hot_upd = wait_for(lambda: (lambda u: u if u[0] - upd0 >= 30 else None)(hot()), 10,
                            "the updates counted")
    assert hot_upd - hot0 >= 0.8 * (upd - upd0), (upd - upd0, hot_upd - hot0)

    stack.stop("sandbox")
    try:
        waiting = [send("waiting %d" % i) for i in range(10)]
        # newer rows than the waiting ones, recorded meanwhile: an inbound message
        stack.psql("INSERT INTO messages (id, direction, peer, type, payload, status)"
                   " VALUES ('wm-inbound-test', 'inbound', '%s', 'text', '{}', 'received')"
                   % customer)
        time.sleep(2.5)                         # the watermark moves every 250 ms
        assert _watermark(stack) < seqs(waiting)[0]
        stack.kill9("coreapp")
    finally:
        stack.start("sandbox")
    stack.start("coreapp")

    def received():
        try:
            r = sb.get("/customers/%s/messages" % customer)
        except requests.RequestException:
            return None
        return collections.Counter(m["id"] for m in r.json()["messages"])

    got = wait_for(lambda: (lambda c: c if c and set(waiting) <= set(c) else None)(received()),
                   30, "the waiting messages at the customer")
    assert [i for i in waiting if got[i] != 1] == []
    wait_for(lambda: _watermark(stack) >= seqs(waiting)[-1], 10, "the watermark past them too")

    # idle, it stays put without writing (each move would be a commit to sync)
    def watermark_writes():
        return int(stack.psql("SELECT n_tup_upd FROM pg_stat_user_tables"
                              " WHERE relname = 'outbox_watermark'"))
    time.sleep(1.5)
    before = watermark_writes()
    time.sleep(4)
    assert watermark_writes() == before


def test_an_idle_watermark_reads_almost_nothing(api, stack):
    """Four times a second the watermark tries to move (WATERMARK_SQL). When it is at the
    newest outbound message, as on every idle coreapp, that must cost next to nothing,
    however many messages there are and whatever came in since. It once scanned the whole
    messages table there (~25 ms for 150,000 rows, forever while idle), and walked every
    inbound message received since the last outbound one."""
    customer = "16315553006"
    sb, admin = _registered_with_a_customer(api, stack, customer)
    send = _sender(admin, customer)
    stack.psql("INSERT INTO messages (id, direction, peer, type, payload, status)"
               " SELECT 'wm-idle-out-' || g, 'outbound', '%s', 'text', '{}', 'delivered'"
               " FROM generate_series(1, 30000) g" % customer)     # history
    last = send("the newest outbound")
    seq = int(stack.psql("SELECT seq FROM messages WHERE id = '%s'" % last))
    wait_for(lambda: _watermark(stack) >= seq, 10, "the watermark at the newest outbound")
    # then customers write, and the business answers none of them (yet)
    stack.psql("INSERT INTO messages (id, direction, peer, type, payload, status)"
               " SELECT 'wm-idle-in-' || g, 'inbound', '%s', 'text', '{}', 'received'"
               " FROM generate_series(1, 30000) g" % customer)

    def reads():
        row = stack.psql("SELECT (SELECT seq_scan FROM pg_stat_user_tables"
                         " WHERE relname = 'messages'), (SELECT sum(idx_tup_read)"
                         " FROM pg_stat_user_indexes WHERE relname = 'messages')")
        return [int(x) for x in row.split("|")]
    time.sleep(1.5)                  # statistics reach the view within a second or so
    seq0, tup0 = reads()
    time.sleep(3)                    # twelve tries
    seq1, tup1 = reads()
    assert seq1 == seq0, "%d scans of the whole messages table while idle" % (seq1 - seq0)
    assert tup1 - tup0 < 100, "%d index entries read while idle" % (tup1 - tup0)
    assert _watermark(stack) == seq
    # the next outbound message takes it past them all
    after = send("an answer at last")
    seq = int(stack.psql("SELECT seq FROM messages WHERE id = '%s'" % after))
    wait_for(lambda: _watermark(stack) >= seq, 10, "the watermark past the inbound ones")
    stack.psql("DELETE FROM messages WHERE id LIKE 'wm-idle-%'")


def test_the_outbox_watermark_crosses_a_long_stretch_of_inbound_rows(api, stack):
    """A move of the watermark reads a bounded stretch of seqs past it (a small step
    often, not a second's rows at once); a stretch with no outbound row at all, longer
    than a step, must not stop it."""
    customer = "16315553005"
    sb, admin = _registered_with_a_customer(api, stack, customer)
    send = _sender(admin, customer)

    def seq_of(msg_id):
        return int(stack.psql("SELECT seq FROM messages WHERE id = '%s'" % msg_id))

    first = send("before")
    wait_for(lambda: _watermark(stack) >= seq_of(first), 10, "the watermark past the first")
    stack.psql("INSERT INTO messages (id, direction, peer, type, payload, status)"
               " SELECT 'wm-stretch-' || g, 'inbound', '%s', 'text', '{}', 'received'"
               " FROM generate_series(1, 25000) g" % customer)     # 2.5 steps
    after = send("after")
    wait_for(lambda: _watermark(stack) >= seq_of(after), 10, "the watermark past the stretch")
