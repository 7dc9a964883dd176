"""Market data projection, hub and WebSocket tests."""
