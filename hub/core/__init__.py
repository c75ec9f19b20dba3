"""What every feature shares: domain errors and their codes, ids, payload validation, rate
limits (in process and in Redis) and token buckets."""
