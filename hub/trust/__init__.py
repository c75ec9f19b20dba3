"""Trust and administration: the audit log, suspension, two-factor sign-in, the admin views."""
