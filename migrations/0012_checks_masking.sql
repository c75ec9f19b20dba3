-- Verification, background checks and contact masking (issue 14, points 3 and 6). Expand
-- only: new tables, and a column with a default, so the previous release keeps working.

-- A chat message whose contact details were hidden before booking (hub/trust/masking.py):
-- the stored body is already the masked one; this says so to the apps.
ALTER TABLE messages ADD COLUMN redacted boolean NOT NULL DEFAULT false;

-- Items held for an administrator's review: a chat message with hidden contact details
-- (message_id, conversation_id), or a background check that came back "consider"
-- (check_id). user_id is whom the flag is about (the sender, the contractor); details keep
-- what the reviewer needs (the hidden text, the report id). Resolving sets resolved_*.
CREATE TABLE flags (
    id               text PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('contact_details', 'background_check')),
    reason           text NOT NULL,
    user_id          text REFERENCES users (id) ON DELETE CASCADE,
    message_id       text REFERENCES messages (id) ON DELETE CASCADE,
    conversation_id  text REFERENCES conversations (id) ON DELETE CASCADE,
    check_id         text,
    details          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    resolved_by      text,
    resolution       text
);
CREATE INDEX flags_created_idx ON flags (created_at DESC, id DESC);
CREATE INDEX flags_open_idx ON flags (created_at DESC, id DESC) WHERE resolved_at IS NULL;
CREATE INDEX flags_user_idx ON flags (user_id);

-- Background checks with the provider (Checkr): one row per check started by an admin.
-- candidate_id / invitation_id / report_id are the provider's; status follows its webhooks.
CREATE TABLE background_checks (
    id             text PRIMARY KEY,
    contractor_id  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       text NOT NULL DEFAULT 'checkr',
    candidate_id   text NOT NULL,
    invitation_id  text,
    report_id      text,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN
                   ('pending', 'clear', 'consider', 'suspended', 'canceled', 'expired')),
    requested_by   text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz
);
CREATE INDEX background_checks_contractor_idx ON background_checks (contractor_id, created_at DESC);
CREATE INDEX background_checks_candidate_idx ON background_checks (candidate_id);
-- At most one check in flight per contractor: starting another returns the pending one.
CREATE UNIQUE INDEX background_checks_pending_key ON background_checks (contractor_id)
    WHERE status = 'pending';

-- Provider webhook events already applied (each applied once, whatever the retries).
CREATE TABLE checkr_events (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
