"""Live tracking: payloads, the tracker (noise filter, ETA, arrival), live state (memory and
Redis), breadcrumbs, watching and share links, the tracking page, and their SQL."""
