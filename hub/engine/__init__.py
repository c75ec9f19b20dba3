"""The Socket.IO transport (note written below)."""
