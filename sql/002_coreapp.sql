-- The coreapp's registration state: one row once a number is registered.
CREATE TABLE account (
    id            int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    cc            text NOT NULL,
    phone_number  text NOT NULL,
    wa_id         text NOT NULL,
    vname         text,
    registered    boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
