-- Offline notifications recorded by the Notifier until push delivery exists, and device
-- tokens for push.
CREATE TABLE notifications (
    id          bigserial PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id);
