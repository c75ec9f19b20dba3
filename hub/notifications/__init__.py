"""Notifications for users who are offline: what is recorded for them (push delivery grows here)."""
