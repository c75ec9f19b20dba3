"""Feature contexts: one aiohttp cleanup context per feature, started in order by
``create_app`` after the database; each builds its actions, registers its socket handlers
and owns its background tasks."""
