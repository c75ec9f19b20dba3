-- Jobs, applications and offers. Status moves open -> assigned -> en_route -> arrived ->
-- in_progress -> completed; cancelled from any state before completed.
CREATE TABLE jobs (
    id             text PRIMARY KEY,
    customer_id    text NOT NULL REFERENCES users (id),
    contractor_id  text REFERENCES users (id),
    trade          text NOT NULL REFERENCES trades (slug),
    title          text NOT NULL,
    description    text NOT NULL DEFAULT '',
    lat            double precision NOT NULL,
    lng            double precision NOT NULL,
    address        text,
    status         text NOT NULL DEFAULT 'open' CHECK (status IN
                   ('open', 'assigned', 'en_route', 'arrived', 'in_progress', 'completed',
                    'cancelled')),
    budget_cents   bigint CHECK (budget_cents IS NULL OR budget_cents >= 0),
    currency       text NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    scheduled_for  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_customer_idx ON jobs (customer_id, created_at DESC, id DESC);
CREATE INDEX jobs_contractor_idx ON jobs (contractor_id, created_at DESC, id DESC)
    WHERE contractor_id IS NOT NULL;
CREATE INDEX jobs_active_contractor_idx ON jobs (contractor_id)
    WHERE status IN ('en_route', 'arrived', 'in_progress');

CREATE TABLE job_applications (
    id               text PRIMARY KEY,
    job_id           text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    contractor_id    text NOT NULL REFERENCES users (id),
    conversation_id  text NOT NULL,
    quote_cents      bigint NOT NULL CHECK (quote_cents >= 0),
    message          text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'accepted', 'declined', 'withdrawn')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, contractor_id)
);
CREATE INDEX job_applications_contractor_idx ON job_applications (contractor_id);

CREATE TABLE job_offers (
    job_id         text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    contractor_id  text NOT NULL REFERENCES users (id),
    distance_m     double precision NOT NULL,
    score          double precision NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, contractor_id)
);
CREATE INDEX job_offers_contractor_idx ON job_offers (contractor_id, created_at DESC);
