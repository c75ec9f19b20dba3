-- Accounts. Email is unique regardless of case (the index is on lower(email)).
CREATE TABLE users (
    id            text PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('customer', 'contractor', 'admin')),
    phone         text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
