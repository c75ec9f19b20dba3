"""Contractors: profiles (trades, service area, availability), the trade catalogue, and
their SQL."""
