"""Client side of the venue's API: request signing and a small signed HTTP client, shared by
the admin CLI, `venue loadtest` and the end-to-end tests. Imports nothing else of the venue."""
