"""The caller's own account and the administrators' user management."""
