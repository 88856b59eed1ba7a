"""Errors of the auth domain."""

from parley.core.errors import BadRequest, NotFound, Unauthorized


class InvalidAccessToken(Unauthorized):
    message = "Invalid or expired access token"


class InvalidCredentials(Unauthorized):
    message = "Invalid email or password"


class InvalidRefreshToken(Unauthorized):
    message = "Invalid or expired refresh token"


class RefreshTokenReused(Unauthorized):
    message = "Refresh token was already used; the login session has been revoked"


class InvalidResetToken(BadRequest):
    message = "Invalid or expired password reset token"


class LoginSessionNotFound(NotFound):
    message = "Login session not found"
