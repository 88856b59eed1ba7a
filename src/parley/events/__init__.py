"""The event log, its catch-up feed and its live stream."""
