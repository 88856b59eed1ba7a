"""Vendors and sellers: what a chat session sells through."""
