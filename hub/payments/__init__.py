"""Payments with Stripe Connect: onboarding, held and captured payments, refunds, webhooks."""
