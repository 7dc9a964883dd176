"""The HTTP and WebSocket gateway: FastAPI app factory, routes, sessions and auth."""
