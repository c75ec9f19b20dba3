-- Conversations (one per job and contractor: applying opens it), members with their read
-- position, and messages with a gapless per-conversation seq taken from
-- conversations.last_seq under a row lock.
CREATE TABLE conversations (
    id                text PRIMARY KEY,
    job_id            text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    customer_id       text NOT NULL REFERENCES users (id),
    contractor_id     text NOT NULL REFERENCES users (id),
    last_seq          bigint NOT NULL DEFAULT 0,
    last_activity_at  timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, contractor_id)
);

CREATE TABLE conversation_members (
    conversation_id  text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id          text NOT NULL REFERENCES users (id),
    last_read_seq    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_user_idx ON conversation_members (user_id);

CREATE TABLE messages (
    id               text PRIMARY KEY,
    conversation_id  text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq              bigint NOT NULL,
    sender_id        text NOT NULL REFERENCES users (id),
    body             text NOT NULL,
    client_msg_id    text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, sender_id, client_msg_id)
);
