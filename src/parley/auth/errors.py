"""Errors of the auth domain."""

from parley.core.errors import Unauthorized


class InvalidAccessToken(Unauthorized):
    message = "Invalid or expired access token"
