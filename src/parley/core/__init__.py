"""Framework-free building blocks: configuration, errors, security, logging, time."""
