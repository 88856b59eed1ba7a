"""HTTP routes of email verification and two-factor setup, under /api/v1/auth."""

from fastapi import APIRouter, status

from parley.accounts.dependencies import AccountsServiceDep
from parley.accounts.schemas import (
    EmailVerify,
    PasswordAndCode,
    RecoveryCodesRead,
    TotpConfirm,
    TotpSetupRead,
    TotpSetupRequest,
)
from parley.api.deps import CurrentUser
from parley.api.openapi import errors
from parley.core.schemas import Envelope

router = APIRouter()


@router.post("/email/verify/request", status_code=status.HTTP_202_ACCEPTED)
async def request_email_verification(
    user: CurrentUser, accounts: AccountsServiceDep
) -> Envelope[None]:
    """Mail a verification link (valid 24 h) to the caller's address, unless verified."""
    await accounts.request_verification(user)
    return Envelope(message="If the address is not verified yet, a link has been sent", data=None)


@router.post("/email/verify")
async def verify_email(data: EmailVerify, accounts: AccountsServiceDep) -> Envelope[None]:
    """Verify an email address with the token of its link; 400 when invalid, used or expired."""
    await accounts.verify_email(data.token)
    return Envelope(message="Email address verified", data=None)


@router.post("/mfa/totp/setup", responses=errors(409))
async def start_totp_setup(
    data: TotpSetupRequest, user: CurrentUser, accounts: AccountsServiceDep
) -> Envelope[TotpSetupRead]:
    """Make a TOTP secret for an authenticator app; not active until confirmed with a code.

    A wrong password is 422; 409 when MFA is already on.
    """
    setup = await accounts.start_totp_setup(user, password=data.password)
    return Envelope(
        message="Scan the secret, then confirm a code", data=TotpSetupRead.model_validate(setup)
    )


@router.post("/mfa/totp/confirm", responses=errors(409))
async def confirm_totp(
    data: TotpConfirm, user: CurrentUser, accounts: AccountsServiceDep
) -> Envelope[RecoveryCodesRead]:
    """Turn MFA on with a current code; answers the ten recovery codes, shown only here.

    A wrong or replayed code is 401 and counts against LOGIN_RATE_LIMIT; 409 when MFA is on
    already or setup was not started.
    """
    codes = await accounts.confirm_totp(user, code=data.code)
    return Envelope(
        message="Two-factor authentication is on", data=RecoveryCodesRead(recovery_codes=codes)
    )


@router.post("/mfa/recovery-codes", responses=errors(409))
async def regenerate_recovery_codes(
    data: PasswordAndCode, user: CurrentUser, accounts: AccountsServiceDep
) -> Envelope[RecoveryCodesRead]:
    """Replace the recovery codes; the old set stops working. Wrong password 422, wrong code
    401, MFA off 409."""
    codes = await accounts.regenerate_recovery_codes(user, password=data.password, code=data.code)
    return Envelope(message="New recovery codes", data=RecoveryCodesRead(recovery_codes=codes))


@router.delete("/mfa", responses=errors(409))
async def disable_mfa(
    data: PasswordAndCode, user: CurrentUser, accounts: AccountsServiceDep
) -> Envelope[None]:
    """Turn MFA off. Wrong password 422, wrong code 401, MFA already off 409."""
    await accounts.disable_mfa(user, password=data.password, code=data.code)
    return Envelope(message="Two-factor authentication is off", data=None)
