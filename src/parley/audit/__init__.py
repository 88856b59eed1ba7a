"""The audit log: who did what to an account's security, from where, in which request."""
