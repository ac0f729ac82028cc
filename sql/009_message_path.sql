-- The message path's hot statements, made cheaper (README "Performance").
-- Owned by wa-coreapp: coreapp/messages_sender.c records statuses.
--
-- The foreign key from message_receipts to messages cost an index probe and a
-- row lock per receipt (two receipts per message, ~10 us each). Receipts are
-- inserted only by the status statement (messages_sender.c STATUS_SQL), which
-- first locks the message's row (FOR UPDATE) and writes a receipt only for a
-- row it found, so a receipt always names an existing message. What the key
-- also did -- take a message's receipts with it when the message is deleted
-- (the garbage collector, 008) -- this statement trigger does, once per
-- DELETE for all the rows it removed.
ALTER TABLE message_receipts DROP CONSTRAINT message_receipts_message_id_fkey;

CREATE FUNCTION wa_message_receipts_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM message_receipts r USING gone g WHERE r.message_id = g.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_deleted AFTER DELETE ON messages
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION wa_message_receipts_cascade();
