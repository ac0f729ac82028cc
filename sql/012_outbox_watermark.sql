-- Recording a status rewrites its message's row. While `status` was in the
-- predicate of an index (messages_outbox, sql/004) no such update could be
-- HOT: each wrote a new entry into every index of the table, and PostgreSQL
-- spent a third of a status statement on index upkeep (measured under
-- `make bench`: ExecInsertIndexTuples 36 % of the backend, with the
-- bottom-up deletion of the index entries those updates left behind).
--
-- The outbox no longer needs that index. What the sender resends after a
-- restart is an outbound row still 'accepted'; all of them lie above a
-- watermark: a seq that no such row is below. The sender moves it forward
-- now and then (coreapp/messages_sender.c), and the outbox scan starts there
-- instead of at the first message ever sent.
--
-- Owned by wa-coreapp: coreapp/messages_sender.c.
DROP INDEX messages_outbox;

-- One row. seq: every outbound message with a smaller or equal seq has had a
-- status recorded (none is 'accepted'). 0 on an existing database: safe, the
-- first advance moves it.
CREATE TABLE outbox_watermark (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq  bigint NOT NULL
);
INSERT INTO outbox_watermark (seq) VALUES (0);

-- Room on each page for the new versions of its rows (a status update is
-- HOT only when it fits on the page of the old version); a page's rows are
-- inserted together and their statuses recorded together.
ALTER TABLE messages SET (fillfactor = 50);
