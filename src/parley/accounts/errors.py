"""Errors of the accounts domain."""

from parley.core.errors import BadRequest, Conflict, Forbidden, Unauthorized


class EmailNotVerified(Forbidden):
    code, message = "email_not_verified", "Confirm your email address before signing in"


class InvalidVerificationToken(BadRequest):
    message = "Invalid or expired email verification token"


class InvalidMfaCode(Unauthorized):
    message = "Invalid or already used two-factor code"


class InvalidMfaToken(Unauthorized):
    message = "Invalid or expired MFA token; sign in again"


class MfaAlreadyEnabled(Conflict):
    message = "Two-factor authentication is already on"


class MfaNotEnabled(Conflict):
    message = "Two-factor authentication is off"


class MfaSetupNotStarted(Conflict):
    message = "Start two-factor setup first (POST /auth/mfa/totp/setup)"
