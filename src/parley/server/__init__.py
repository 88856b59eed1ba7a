"""The HTTP edge under the app: uvicorn with bounded headers, read timeouts, a connection
limit per worker, and a SIGTERM that stops accepting at once. `parley serve` runs it."""
