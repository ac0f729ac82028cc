-- Users, their tokens' revocations and the webapp's shared secrets.
-- Owned by wa-webapp.
CREATE TABLE users (
    username              text PRIMARY KEY,
    password_hash         text NOT NULL,
    role                  text NOT NULL CHECK (role IN ('ROLE_ADMIN', 'ROLE_USER')),
    must_change_password  boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- A row revokes one token (jti) or every token of a user issued before
-- before_ms (password change, deletion). Rows can go once expires_at passes,
-- since the tokens they revoke have expired by then.
CREATE TABLE token_revocations (
    id          bigserial PRIMARY KEY,
    jti         text,
    username    text,
    before_ms   bigint,
    expires_at  timestamptz NOT NULL,
    CHECK ((jti IS NOT NULL) <> (username IS NOT NULL))
);
CREATE INDEX token_revocations_expires ON token_revocations (expires_at);

-- Secrets every webapp instance must share: the token signing key and the
-- TLS certificate and key generated at first start.
CREATE TABLE web_secrets (
    name   text PRIMARY KEY,
    value  text NOT NULL
);
