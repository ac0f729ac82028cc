-- Garbage collection of the messages table (spec/API.md §6.3, §14):
-- PUT /v1/services/message/gc and the automatic collector
-- (garbagecollector_enable.messages). Owned by wa-coreapp: coreapp/message_gc.c,
-- which runs one collection as separate statements, each its own transaction,
-- so that none holds many row locks or a long snapshot:
--   SELECT wa_message_gc_mark();                   where the callback snapshot ends
--   SELECT wa_message_gc_snapshot(mark);           ids that pending callbacks name
--   SELECT wa_message_gc(days, batch, mark);       again until it deletes < batch
-- What may go is decided by wa_message_gc() alone (see there).

-- The message ids a callback body names: statuses[].id, messages[].id (an
-- inbound message) and messages[].context.id (the message it replies to).
CREATE FUNCTION wa_callback_message_ids(body text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
    SELECT v #>> '{}' FROM jsonb_path_query(body::jsonb, 'lax $.*[*].id') AS v
    UNION
    SELECT v #>> '{}' FROM jsonb_path_query(body::jsonb, 'lax $.messages[*].context.id') AS v
$$;

-- The last callback id the snapshot covers. The SHARE lock waits for the
-- transactions that are inserting callbacks right now (they hold ROW
-- EXCLUSIVE) and is released when this statement ends, so every callback
-- with a higher id commits after it: wa_message_gc() looks at those itself.
-- The lock is held for an instant; lock_timeout keeps it from queueing long
-- behind a stuck writer (the run then fails and reports it).
CREATE FUNCTION wa_message_gc_mark() RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('lock_timeout', '5s', true);
    LOCK TABLE wa_callbacks IN SHARE MODE;
    RETURN (SELECT coalesce(max(id), 0) FROM wa_callbacks);
END
$$;

-- Fills the session's pg_temp.wa_gc_keep with the ids named by the callbacks
-- up to mark, once per run rather than per chunk: a receiver that is down can
-- leave very many callbacks queued. Returns how many ids it holds.
CREATE FUNCTION wa_message_gc_snapshot(mark bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF to_regclass('pg_temp.wa_gc_keep') IS NULL THEN
        CREATE TEMP TABLE wa_gc_keep (id text PRIMARY KEY);
    END IF;
    TRUNCATE pg_temp.wa_gc_keep;
    INSERT INTO pg_temp.wa_gc_keep
        SELECT DISTINCT r.id FROM wa_callbacks c, wa_callback_message_ids(c.body) AS r(id)
        WHERE c.id <= mark AND r.id IS NOT NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Deletes at most batch messages (their message_receipts go with them: the
-- DELETE cascades to them) and returns how many. A message may go when it is older
-- than retention_days (by created_at: accepted or received) and finished:
--   outbound delivered, read, failed or deleted;
--   outbound sent (acknowledged, not yet delivered) only once it is also older
--     than 30 days: the network keeps an undelivered message that long, so a
--     receipt may still come until then;
--   inbound, read or not, unless its read receipt is still to be sent.
-- Never an outbound message still 'accepted' (not yet acknowledged by the
-- network), nor one that a callback not yet acknowledged names (the
-- snapshot, plus callbacks queued since mark). Rows another transaction has
-- locked (a status being recorded) are skipped, not waited for.
CREATE FUNCTION wa_message_gc(retention_days int, batch int, mark bigint) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    cutoff      timestamptz := now() - make_interval(days => retention_days);
    sent_cutoff timestamptz := least(now() - make_interval(days => retention_days),
                                     now() - interval '30 days');
    n           int;
BEGIN
    IF to_regclass('pg_temp.wa_gc_keep') IS NULL THEN
        RAISE EXCEPTION 'wa_message_gc_snapshot() must run first in this session';
    END IF;
    WITH recent AS MATERIALIZED (
        SELECT DISTINCT r.id FROM wa_callbacks c, wa_callback_message_ids(c.body) AS r(id)
        WHERE c.id > mark AND r.id IS NOT NULL),
    victims AS (
        SELECT m.id FROM messages m
        WHERE m.created_at < cutoff
          AND CASE WHEN m.direction = 'inbound' THEN m.read_receipt IS DISTINCT FROM 'pending'
                   WHEN m.status = 'sent' THEN m.created_at < sent_cutoff
                   ELSE m.status IN ('delivered', 'read', 'failed', 'deleted') END
          AND NOT EXISTS (SELECT 1 FROM pg_temp.wa_gc_keep k WHERE k.id = m.id)
          AND NOT EXISTS (SELECT 1 FROM recent WHERE recent.id = m.id)
        ORDER BY m.created_at
        LIMIT batch
        FOR UPDATE OF m SKIP LOCKED)
    DELETE FROM messages m USING victims v WHERE m.id = v.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
