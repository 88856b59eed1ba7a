"""API keys: long-lived credentials for integrations and bots, scoped read or write."""
