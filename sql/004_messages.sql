-- Messages sent and received, and the history of their statuses.
-- Owned by wa-coreapp: coreapp/messages.c (POST /v1/messages, PUT
-- /v1/messages/{id}) and coreapp/messages_sender.c (the outbox, status events).

-- One row per message. Outbound rows are inserted in batches (one statement,
-- one commit per turn of the coreapp's loop) with status 'accepted'; the
-- sender hands them to the network and moves them on as the network reports:
--   accepted -> sent -> delivered -> read        or -> failed (error_*)
-- 'delivered' may be skipped. Inbound rows start as 'received' and become
-- 'read' when the business marks them (PUT /v1/messages/{id}).
CREATE TABLE messages (
    id              text PRIMARY KEY,
    seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,   -- outbox order
    direction       text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    peer            text NOT NULL,         -- outbound: recipient wa_id or group id;
                                           -- inbound: the sender's wa_id
    recipient_type  text NOT NULL DEFAULT 'individual'
                    CHECK (recipient_type IN ('individual', 'group')),
    type            text NOT NULL,
    payload         jsonb NOT NULL,        -- outbound: the validated request body;
                                           -- inbound: the message as the network gave it
    status          text NOT NULL CHECK (status IN ('accepted', 'sent', 'delivered', 'read',
                                                    'failed', 'deleted', 'received')),
    error_code      int,                   -- with status 'failed' (spec/ERRORS.md)
    error_title     text,
    error_details   text,
    created_at      timestamptz NOT NULL DEFAULT now(),   -- accepted / received
    sent_at         timestamptz,           -- timestamps as the network reported them
    delivered_at    timestamptz,
    read_at         timestamptz,
    failed_at       timestamptz,
    -- inbound only: the business marked it read; 'pending' until handed to the network
    read_receipt    text CHECK (read_receipt IN ('pending', 'sent'))
);
-- What the sender resends after a restart: committed, not yet acknowledged.
CREATE INDEX messages_outbox ON messages (seq) WHERE status = 'accepted';
CREATE INDEX messages_read_receipts ON messages (seq) WHERE read_receipt = 'pending';
-- The garbage collector and /v1/stats/db go by age.
CREATE INDEX messages_created_at ON messages (created_at);

-- Every status a message went through, as the network reported it (the
-- documented client keeps a message_receipt_log for the same purpose). body
-- is the status object of the webhook (spec/WEBHOOKS.md §5).
CREATE TABLE message_receipts (
    id           bigserial PRIMARY KEY,
    message_id   text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    status       text NOT NULL,
    at           timestamptz NOT NULL,
    error_code   int,
    body         jsonb NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_receipts_message ON message_receipts (message_id);
