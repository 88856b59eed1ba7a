"""Request and response bodies of the auth domain."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from parley.core.passwords import MAX_PASSWORD_LENGTH
from parley.core.schemas import InputModel, NoNul, NoNulText, ReadModel
from parley.users.schemas import Email, Password

AnyPassword = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
OpaqueToken = Annotated[str, Field(min_length=1, max_length=512)]


class LoginRequest(InputModel):
    # Any text: an address that cannot exist simply fails to sign in, like a wrong one.
    email: Annotated[str, Field(min_length=1, max_length=320), NoNul, NoNulText]
    password: AnyPassword


# A TOTP code (6 digits) or a recovery code (`xxxxx-xxxxx`).
SecondFactorCode = Annotated[str, Field(min_length=1, max_length=64), NoNul, NoNulText]


class MfaVerifyRequest(InputModel):
    mfa_token: OpaqueToken
    code: SecondFactorCode


class MfaChallengeRead(ReadModel):
    """A correct password of an account with MFA on: finish with POST /auth/mfa/verify."""

    mfa_required: Literal[True] = True
    mfa_token: str = Field(description="Single-use; send it with a code to /auth/mfa/verify")
    expires_in: int = Field(description="Lifetime of the mfa_token in seconds")


class RefreshRequest(InputModel):
    refresh_token: OpaqueToken


class PasswordChange(InputModel):
    current_password: AnyPassword
    new_password: Password


class PasswordForgot(InputModel):
    email: Email


class PasswordReset(InputModel):
    token: OpaqueToken
    new_password: Password


class TokenRequest(BaseModel):
    """The RFC 6749 password grant form of `/auth/token`; other parameters are ignored.

    `grant_type` may be left out (the contract names only `username` and `password`).
    """

    grant_type: Literal["password"] = "password"
    username: Annotated[str, Field(min_length=1, max_length=320), NoNul, NoNulText]
    password: AnyPassword
    scope: Annotated[str, Field(max_length=1000)] = ""
    client_id: Annotated[str, Field(max_length=255)] = ""
    client_secret: Annotated[str, Field(max_length=255)] = ""


class TokenPair(ReadModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Lifetime of the access token in seconds")
    session_id: UUID = Field(description="The login session these tokens belong to")


class OAuth2Token(ReadModel):
    """The RFC 6749 token response of the form endpoint (no envelope)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int
    refresh_token: str


class LoginSessionRead(ReadModel):
    id: UUID
    user_agent: str | None
    ip_address: str | None
    device: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool = False
