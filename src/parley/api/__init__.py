"""Shared HTTP plumbing: dependencies, error rendering, the envelope."""
