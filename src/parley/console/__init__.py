"""The web console at /console/: a browser application served from this package's files."""
