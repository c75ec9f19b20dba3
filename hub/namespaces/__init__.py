"""Thin Socket.IO event handlers, grouped by feature; the gateway dispatches to them."""
