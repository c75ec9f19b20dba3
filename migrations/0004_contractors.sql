-- Contractor profiles: trades, service area (canonical JSON from geo.areas), availability.
-- Matching runs on an in-memory index (geo.index) loaded from this table; PostGIS is not used.
CREATE TABLE contractor_profiles (
    user_id       text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    trades        text[] NOT NULL DEFAULT '{}',
    service_area  jsonb,
    available     boolean NOT NULL DEFAULT false,
    base_lat      double precision,
    base_lng      double precision,
    rating        real NOT NULL DEFAULT 0 CHECK (rating >= 0 AND rating <= 5),
    rating_count  integer NOT NULL DEFAULT 0,
    verified      boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contractor_profiles_trades_idx ON contractor_profiles USING gin (trades);
