-- Live tracking: downsampled breadcrumbs per job, and revocable share links.
CREATE TABLE job_breadcrumbs (
    job_id         text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    ts_ms          double precision NOT NULL,
    contractor_id  text NOT NULL,
    lat            double precision NOT NULL,
    lng            double precision NOT NULL,
    accuracy_m     real,
    heading        real,
    speed_mps      real,
    PRIMARY KEY (job_id, ts_ms)
);

CREATE TABLE share_links (
    jti         text PRIMARY KEY,
    job_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    created_by  text NOT NULL REFERENCES users (id),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX share_links_job_idx ON share_links (job_id);
