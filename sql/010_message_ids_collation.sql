-- The message path's id columns, byte-compared (README "Performance"; follows 009).
-- Owned by wa-coreapp: coreapp/messages.c and coreapp/messages_sender.c.
-- Message ids are opaque keys compared only for equality and looked up in
-- B-trees at every insert, status and receipt. Under the database's default
-- collation (e.g. C.UTF-8) each comparison goes through strcoll(); the "C"
-- collation compares bytes. Equality is the same in both, so no query's
-- result changes (a literal or parameter compared to these columns takes
-- their collation).
ALTER TABLE messages ALTER COLUMN id TYPE text COLLATE "C";
ALTER TABLE message_receipts ALTER COLUMN message_id TYPE text COLLATE "C";
