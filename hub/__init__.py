"""Realtime layer: Socket.IO server, fan-out, presence, chat and tracking actions."""
