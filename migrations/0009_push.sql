-- Push notifications (issue 12): device tokens, and the outbox of pushes, one row per
-- notification and device, written in the same transaction as the event that causes it.
-- Forward only; 0008's notifications table is kept as it is (it is the inbox).
CREATE TABLE devices (
    token         text PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    platform      text NOT NULL CHECK (platform IN ('ios', 'android', 'web')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_user_idx ON devices (user_id);

-- A row is due when state is 'pending' and due_at has passed; a delivered row is deleted
-- (the notification stays in the inbox); a row that ran out of attempts stays 'failed'.
-- Deleting a device (DELETE /devices, a pruned token, a deleted account) drops its rows.
CREATE TABLE push_outbox (
    id               bigserial PRIMARY KEY,
    notification_id  bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    token            text NOT NULL REFERENCES devices (token) ON DELETE CASCADE,
    collapse_key     text NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    due_at           timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_outbox_due_idx ON push_outbox (due_at, id) WHERE state = 'pending';
CREATE INDEX push_outbox_token_idx ON push_outbox (token);
CREATE INDEX push_outbox_notification_idx ON push_outbox (notification_id);
