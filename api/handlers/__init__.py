"""Thin REST handlers: parse, authorise, call one action, map the result."""
