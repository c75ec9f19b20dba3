-- Payments with Stripe Connect (issue 13): contractors' connected accounts, one payment per
-- job (its current PaymentIntent), the Stripe events already applied, and the geofence's
-- arrival on the job. Amounts are integer minor units; no float touches money. Refunds and
-- disputes are audited in 0011's audit_log (hub/trust/audit.py).
CREATE TABLE connect_accounts (
    user_id            text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    account_id         text NOT NULL UNIQUE,
    charges_enabled    boolean NOT NULL DEFAULT false,
    payouts_enabled    boolean NOT NULL DEFAULT false,
    details_submitted  boolean NOT NULL DEFAULT false,
    -- the Stripe `created` of the account.updated event last applied: an older one is stale
    event_created      bigint NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- One row per job. `generation` counts the intents the job has had: a hold close to its
-- 7-day expiry is renewed with a new intent (docs/PAYMENTS.md); events of an older intent
-- find no row and change nothing.
CREATE TABLE payments (
    job_id                text PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    intent_id             text NOT NULL UNIQUE,
    generation            integer NOT NULL DEFAULT 1,
    client_secret         text NOT NULL,
    customer_id           text NOT NULL REFERENCES users (id),
    contractor_id         text NOT NULL REFERENCES users (id),
    destination           text NOT NULL,
    status                text NOT NULL DEFAULT 'requires_payment_method' CHECK (status IN
                          ('requires_payment_method', 'authorized', 'captured',
                           'partially_refunded', 'refunded', 'cancelled', 'disputed')),
    amount_cents          bigint NOT NULL CHECK (amount_cents > 0),
    currency              text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    fee_cents             bigint NOT NULL CHECK (fee_cents >= 0),
    refunded_cents        bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    authorized_at         timestamptz,
    captured_at           timestamptz,
    confirmed_at          timestamptz,  -- the customer confirmed the work was done
    capture_requested_at  timestamptz,  -- a node is capturing (claim; stale after a minute)
    last_error            text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_open_idx ON payments (status) WHERE status IN
    ('requires_payment_method', 'authorized');

CREATE TABLE stripe_events (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    created      bigint NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- Set by the hub when live tracking's geofence (not the contractor's word) moved the job
-- to arrived: with `completed`, it releases the payment's capture.
ALTER TABLE jobs ADD COLUMN arrival_seen_at timestamptz;
