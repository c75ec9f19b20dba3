-- Trust and administration (issue 14): account status and suspension, the per-user token
-- generation that kills access tokens at once, two-factor sign-in (TOTP), and the
-- append-only audit log. Expand only: every column has a default or is nullable, so the
-- previous release keeps working against this schema.

-- status: 'active' or 'suspended'. token_gen: access tokens carry the generation they were
-- issued at ("gen"); a token whose gen is below the user's is refused on every node
-- (suspension bumps it). totp_secret / totp_pending_secret: Fernet tokens (encrypted with
-- TOTP_ENCRYPTION_KEYS), never the plain secret. totp_last_step: the last accepted
-- 30-second step, so a code is never accepted twice, on any node.
ALTER TABLE users
    ADD COLUMN status               text NOT NULL DEFAULT 'active'
                                    CHECK (status IN ('active', 'suspended')),
    ADD COLUMN suspended_at         timestamptz,
    ADD COLUMN suspended_reason     text,
    ADD COLUMN token_gen            integer NOT NULL DEFAULT 0,
    ADD COLUMN token_gen_changed_at timestamptz,
    ADD COLUMN totp_secret          text,
    ADD COLUMN totp_pending_secret  text,
    ADD COLUMN totp_enabled_at      timestamptz,
    ADD COLUMN totp_last_step       bigint;

-- Nodes load and poll the users whose tokens were cut (few), not every user.
CREATE INDEX users_token_gen_changed_idx ON users (token_gen_changed_at)
    WHERE token_gen_changed_at IS NOT NULL;
-- The admin list's filters and its newest-first order.
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);
CREATE INDEX users_name_lower_idx ON users (lower(name) text_pattern_ops);

-- Admin actions and security events. Payments' 0010 may already have made this table
-- (same columns: target is "<type>:<id>", e.g. "user:u_1"); both paths end in the same
-- shape. No foreign key on actor_id: an entry outlives its actor, and ON DELETE SET NULL
-- would be an UPDATE, which the log refuses. details holds no password, token or secret
-- (hub/trust/audit.py redacts such keys before writing).
CREATE TABLE IF NOT EXISTS audit_log (
    id           bigserial PRIMARY KEY,
    actor_id     text,
    action       text NOT NULL,
    target       text,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_actor_id_fkey;
CREATE INDEX IF NOT EXISTS audit_log_target_idx ON audit_log (target, id DESC);
CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor_id, id DESC);
CREATE INDEX IF NOT EXISTS audit_log_action_idx ON audit_log (action, id DESC);

-- Append-only: rows can be inserted and read, never changed or removed, whoever connects
-- (a trigger binds the table's owner too, which REVOKE would not).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

-- Counts for GET /admin/stats, kept by statement triggers so the stats read a few rows
-- instead of counting 100,000s (it must answer in well under 100 ms). A change adds its
-- deltas to the row of its connection's shard (pg_backend_pid() % 8), so concurrent
-- writers seldom wait on one row; a read sums the shards.
CREATE TABLE stats_counters (
    kind   text NOT NULL,  -- 'users.role' or 'jobs.status'
    key    text NOT NULL,
    shard  smallint NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (kind, key, shard)
);

CREATE FUNCTION stats_counters_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Each branch names only the transition tables its trigger declares.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stats_counters (kind, key, shard, n)
        SELECT 'users.role', role, pg_backend_pid() % 8, count(*) FROM new_rows
        GROUP BY role ORDER BY role
        ON CONFLICT (kind, key, shard) DO UPDATE SET n = stats_counters.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO stats_counters (kind, key, shard, n)
        SELECT 'users.role', role, pg_backend_pid() % 8, -count(*) FROM old_rows
        GROUP BY role ORDER BY role
        ON CONFLICT (kind, key, shard) DO UPDATE SET n = stats_counters.n + EXCLUDED.n;
    ELSE
        INSERT INTO stats_counters (kind, key, shard, n)
        SELECT 'users.role', key, pg_backend_pid() % 8, sum(d) FROM (
            SELECT role AS key, 1 AS d FROM new_rows
            UNION ALL
            SELECT role, -1 FROM old_rows
        ) changes
        GROUP BY key HAVING sum(d) <> 0 ORDER BY key
        ON CONFLICT (kind, key, shard) DO UPDATE SET n = stats_counters.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER stats_counters_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stats_counters_users();
CREATE TRIGGER stats_counters_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stats_counters_users();
CREATE TRIGGER stats_counters_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stats_counters_users();

CREATE FUNCTION stats_counters_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Each branch names only the transition tables its trigger declares.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stats_counters (kind, key, shard, n)
        SELECT 'jobs.status', status, pg_backend_pid() % 8, count(*) FROM new_rows
        GROUP BY status ORDER BY status
        ON CONFLICT (kind, key, shard) DO UPDATE SET n = stats_counters.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO stats_counters (kind, key, shard, n)
        SELECT 'jobs.status', status, pg_backend_pid() % 8, -count(*) FROM old_rows
        GROUP BY status ORDER BY status
        ON CONFLICT (kind, key, shard) DO UPDATE SET n = stats_counters.n + EXCLUDED.n;
    ELSE
        INSERT INTO stats_counters (kind, key, shard, n)
        SELECT 'jobs.status', key, pg_backend_pid() % 8, sum(d) FROM (
            SELECT status AS key, 1 AS d FROM new_rows
            UNION ALL
            SELECT status, -1 FROM old_rows
        ) changes
        GROUP BY key HAVING sum(d) <> 0 ORDER BY key
        ON CONFLICT (kind, key, shard) DO UPDATE SET n = stats_counters.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER stats_counters_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stats_counters_jobs();
CREATE TRIGGER stats_counters_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stats_counters_jobs();
CREATE TRIGGER stats_counters_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stats_counters_jobs();

-- Counted after the triggers exist: CREATE TRIGGER holds a lock that keeps writers out
-- until this migration's transaction commits, so no row is missed or counted twice.
INSERT INTO stats_counters (kind, key, shard, n)
SELECT 'users.role', role, 0, count(*) FROM users GROUP BY role;
INSERT INTO stats_counters (kind, key, shard, n)
SELECT 'jobs.status', status, 0, count(*) FROM jobs GROUP BY status;
