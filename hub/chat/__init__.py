"""Chat: payloads, the actions (``post_message`` and friends), the ``chat:*`` socket handlers
and the conversations' SQL."""
