-- The local copy of Clerk's users, organizations and memberships, kept by
-- webhooks and the sync-users backfill. A row is changed only by a record
-- at least as new as it (`updated_at`, ms); a deleted row stays as a
-- tombstone so that a late or replayed event never brings it back.
CREATE TABLE users (
    id              TEXT PRIMARY KEY NOT NULL,
    primary_email   TEXT,
    first_name      TEXT,
    last_name       TEXT,
    public_metadata TEXT    NOT NULL DEFAULT '{}',
    banned          INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE organizations (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT    NOT NULL DEFAULT '',
    slug            TEXT,
    public_metadata TEXT    NOT NULL DEFAULT '{}',
    updated_at      INTEGER NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE memberships (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    updated_at      INTEGER NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX memberships_by_org ON memberships (organization_id) WHERE deleted = 0;

-- Every webhook delivery applied (svix-id): a redelivery is a no-op.
CREATE TABLE webhook_deliveries (
    delivery_id TEXT PRIMARY KEY NOT NULL,
    kind        TEXT    NOT NULL,
    applied_at  INTEGER NOT NULL
);
