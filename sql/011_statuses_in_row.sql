-- A message's statuses live in its own row: status, one timestamp per status
-- and the error of a failure (sql/004). The separate log of receipts repeated
-- those facts, one row (with the network's JSON, two index entries and a
-- sequence number) per status: two thirds of what recording a delivery cost
-- PostgreSQL. The network's receipt, with its conversation and pricing, is
-- what the status callback carries (wa_callbacks); nothing read the log.
-- Owned by wa-coreapp: coreapp/messages_sender.c records statuses.
DROP TRIGGER messages_deleted ON messages;
DROP FUNCTION wa_message_receipts_cascade();
DROP TABLE message_receipts;

-- Only the garbage collector (sql/008) reads by created_at, a few times a day,
-- and rows arrive in created_at order: a block-range index costs an insert
-- almost nothing, where a B-tree entry per message was a quarter of the insert.
DROP INDEX messages_created_at;
CREATE INDEX messages_created_at ON messages USING brin (created_at);
