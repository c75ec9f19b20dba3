"""REST API and composition root of the Tradeshub hub."""
