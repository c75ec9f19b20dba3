-- Refresh tokens, stored as SHA-256 hashes and grouped in rotation families.
-- Presenting a spent token revokes its whole family.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    family_id   text NOT NULL,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    spent_at    timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
