-- Registration and contacts (coreapp/account.c, coreapp/contacts.c).

-- The business's CURVE key pair for the network link, made at the first
-- registration request and kept: the network binds the registered number to
-- this key at verification, so it must survive restarts.
CREATE TABLE account_keys (
    id          int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    public_key  text NOT NULL,
    secret_key  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A registration code requested (POST /v1/account) and not yet verified.
CREATE TABLE account_pending (
    id            int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    cc            text NOT NULL,
    phone_number  text NOT NULL,
    vname         text NOT NULL,
    cert          text NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE account ADD COLUMN cert text;
ALTER TABLE account ADD COLUMN two_step boolean NOT NULL DEFAULT false;

-- Contact checks (POST /v1/contacts), cached 7 days. number is the
-- normalised international number (E.164 digits); wa_id only when valid.
CREATE TABLE contacts_cache (
    number      text PRIMARY KEY,
    status      text NOT NULL CHECK (status IN ('valid', 'invalid')),
    wa_id       text,
    checked_at  timestamptz NOT NULL DEFAULT now()
);

-- The last known identity of each contact (GET/PUT /v1/contacts/{wa_id}/identity).
-- acknowledged is false after a user_identity_changed until PUT confirms the hash;
-- the messaging code checks it (error 1028) when show_security_notifications is on.
CREATE TABLE contact_identities (
    wa_id              text PRIMARY KEY,
    hash               text NOT NULL,
    created_timestamp  bigint NOT NULL,
    acknowledged       boolean NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
