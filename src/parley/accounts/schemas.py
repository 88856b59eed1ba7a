"""Request and response bodies of the accounts domain."""

from typing import Annotated

from pydantic import Field

from parley.core.passwords import MAX_PASSWORD_LENGTH
from parley.core.schemas import InputModel, NoNul, NoNulText, ReadModel

AnyPassword = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
Code = Annotated[str, Field(min_length=1, max_length=64), NoNul, NoNulText]


class EmailVerify(InputModel):
    token: Annotated[str, Field(min_length=1, max_length=512)]


class TotpSetupRequest(InputModel):
    password: AnyPassword


class TotpSetupRead(ReadModel):
    secret: str = Field(description="Base32 TOTP secret (SHA-1, 6 digits, 30 s)")
    otpauth_uri: str = Field(description="otpauth:// URI for authenticator apps (QR code)")


class TotpConfirm(InputModel):
    code: Annotated[str, Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")]


class PasswordAndCode(InputModel):
    password: AnyPassword
    code: Code = Field(description="A TOTP code or an unused recovery code")


class RecoveryCodesRead(ReadModel):
    recovery_codes: list[str] = Field(description="Ten single-use codes, shown only here")
