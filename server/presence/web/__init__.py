"""The Starlette shell: app factory, WebSocket endpoints, REST, background loops."""
