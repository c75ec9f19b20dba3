"""Accounts: registration, login and refresh (actions), password hashing, the token codec,
and the users and refresh-token SQL."""
