"""The hub: the realtime transport (``engine``) and the marketplace's domain.

``engine`` is the Socket.IO transport and knows no feature. ``core`` is the shared kernel
(errors, ids, validation, rate limits), ``realtime`` what features see of sockets (gateway,
presence, the one emitter). Each other subpackage is one capability with its payloads,
actions, socket handlers and SQL: ``accounts``, ``contractors``, ``jobs``, ``chat``,
``tracking``, ``notifications``. Composition (which implementation of each twin, which
features run) is ``api.app.create_app``'s, never the hub's.
"""
