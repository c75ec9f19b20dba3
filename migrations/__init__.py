"""The schema's forward-only migrations, ``NNNN_name.sql``, shipped as package data.

``api.migrate`` reads them with importlib.resources; this file only makes the folder a
package so that the wheel carries it.
"""
