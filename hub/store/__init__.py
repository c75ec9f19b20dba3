"""SQL of the realtime side.

Functions take a connection; the calling action owns the transaction.
"""
