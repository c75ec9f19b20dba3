-- Trade categories; `tradeshub seed` fills them.
CREATE TABLE trades (
    slug       text PRIMARY KEY CHECK (slug ~ '^[a-z][a-z0-9_-]{1,39}$'),
    name       text NOT NULL,
    sort_order integer NOT NULL DEFAULT 0
);
