"""Webhooks: signed deliveries of a user's events to the URLs they register, with retries."""
