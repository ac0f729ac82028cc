-- The business's profile (About text, photo), its business profile, third-party
-- stickerpacks, and a helper for GET /v1/stats/db.
-- Owned by wa-coreapp: coreapp/profile.c, coreapp/stickerpacks.c, coreapp/stats.c.

-- /v1/settings/profile/about and /photo: one row. The photo is kept here (at
-- most 5 MiB, see coreapp/profile.h) so every coreapp serves the same one.
CREATE TABLE profile (
    id                int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    about             text NOT NULL DEFAULT 'Hey there! I am using WhatsApp.',
    photo             bytea,
    photo_type        text CHECK (photo_type IN ('image/jpeg', 'image/png')),
    photo_updated_at  timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((photo IS NULL) = (photo_type IS NULL))
);
INSERT INTO profile DEFAULT VALUES;

-- /v1/settings/business/profile: one row, every field empty until set.
CREATE TABLE business_profile (
    id           int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    address      text NOT NULL DEFAULT '',
    description  text NOT NULL DEFAULT '',
    email        text NOT NULL DEFAULT '',
    vertical     text NOT NULL DEFAULT '',
    websites     text[] NOT NULL DEFAULT '{}',
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO business_profile DEFAULT VALUES;

-- /v1/stickerpacks: third-party packs only (first-party ones belong to WhatsApp).
CREATE TABLE stickerpacks (
    id                      text PRIMARY KEY,
    publisher               text NOT NULL,
    name                    text NOT NULL,
    ios_app_store_link      text NOT NULL DEFAULT '',
    android_app_store_link  text NOT NULL DEFAULT '',
    next_sticker            int NOT NULL DEFAULT 0,    -- indexes are never reused
    created_at              timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE stickers (
    pack_id        text NOT NULL REFERENCES stickerpacks (id) ON DELETE CASCADE,
    idx            int NOT NULL,
    image_data_id  text NOT NULL,
    emojis         text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (pack_id, idx)
);

-- Runs a (label, count) query for /v1/stats/db and answers no rows when its
-- table or column does not exist (yet), so the stats node works whichever
-- domain tables a database has.
CREATE FUNCTION wa_stats_count(q text) RETURNS TABLE (label text, n bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY EXECUTE q;
EXCEPTION WHEN undefined_table OR undefined_column OR undefined_function THEN
    RETURN;
END
$$;

-- Runs a query answering one text value for GET /v1/support; NULL when its
-- table or column does not exist (yet).
CREATE FUNCTION wa_safe_text(q text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r text;
BEGIN
    EXECUTE q INTO r;
    RETURN r;
EXCEPTION WHEN undefined_table OR undefined_column OR undefined_function THEN
    RETURN NULL;
END
$$;
