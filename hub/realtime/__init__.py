"""What the domain sees of sockets: the gateway (identity and dispatch), presence, socket
sessions, and the one emitter (``notify.Notifier``) with its typed payload builders."""
