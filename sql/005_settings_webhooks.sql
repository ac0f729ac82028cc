-- Application settings, the webhook CA and the callback queue.
-- Owned by wa-coreapp: coreapp/settings.c (app_settings), coreapp/webhooks.c (the rest).

-- PATCH/DELETE /v1/settings/application: one row holding only the fields set
-- away from their defaults, as a nested JSON object ({"webhooks":{"url":...}}),
-- so that DELETE is "forget the overrides" and a new default reaches every
-- installation that never chose otherwise.
CREATE TABLE app_settings (
    id          int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    overrides   jsonb NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- The row always exists, so a PATCH can lock it (SELECT ... FOR UPDATE) and
-- two coreapps patching at once can't lose each other's keys.
INSERT INTO app_settings DEFAULT VALUES;

-- POST/DELETE /v1/certificates/webhooks/ca: the uploaded PEM bundle, as sent.
CREATE TABLE webhook_ca (
    id          int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    pem         text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Callbacks not yet acknowledged with a 200. Producers insert rows in their
-- own transaction (see coreapp/webhooks.h); the dispatcher of a coreapp claims
-- them by writing its session token in claimed_by (the second key of the
-- advisory lock (727005, token) its connection holds, so a claim whose lock is
-- gone belongs to a dead session and is released), and deletes a row only
-- after its 200. body is kept as text: the exact bytes that are posted and signed.
CREATE TABLE wa_callbacks (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    body        text NOT NULL,
    claimed_by  bigint,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wa_callbacks_unclaimed ON wa_callbacks (id) WHERE claimed_by IS NULL;

-- Wake-ups, delivered at COMMIT (none for a rolled-back transaction), so that
-- every coreapp reloads settings and the CA, and dispatchers claim new rows,
-- whichever process or transaction made the change.
CREATE FUNCTION wa_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END
$$;
CREATE TRIGGER app_settings_changed AFTER INSERT OR UPDATE OR DELETE ON app_settings
    FOR EACH STATEMENT EXECUTE FUNCTION wa_notify_change('wa_settings');
CREATE TRIGGER webhook_ca_changed AFTER INSERT OR UPDATE OR DELETE ON webhook_ca
    FOR EACH STATEMENT EXECUTE FUNCTION wa_notify_change('wa_webhook_ca');
CREATE TRIGGER wa_callbacks_inserted AFTER INSERT ON wa_callbacks
    FOR EACH STATEMENT EXECUTE FUNCTION wa_notify_change('wa_callbacks');
