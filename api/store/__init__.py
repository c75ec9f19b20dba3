"""SQL of the REST side.

Functions take a connection; the calling action owns the transaction.
"""
