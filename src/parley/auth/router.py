"""HTTP routes of /api/v1/auth: sign-up, tokens, login sessions and passwords."""

from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from parley.api.deps import CurrentPrincipal, PageDep, ResourcesDep, client_ip, refuse_api_key
from parley.api.openapi import answers, errors, oauth2_errors
from parley.auth.dependencies import AuthServiceDep, RegistrationServiceDep, hot_paths
from parley.auth.schemas import (
    LoginRequest,
    LoginSessionRead,
    MfaChallengeRead,
    MfaVerifyRequest,
    OAuth2Token,
    PasswordChange,
    PasswordForgot,
    PasswordReset,
    RefreshRequest,
    TokenPair,
    TokenRequest,
)
from parley.auth.service import ClientInfo, IssuedTokens, MfaRequired, SecondStepRequired
from parley.core.cursors import list_scope
from parley.core.errors import ParleyError
from parley.core.schemas import Envelope, Page
from parley.users.schemas import UserCreate, UserRead

router = APIRouter()


def _client(request: Request) -> ClientInfo:
    return ClientInfo(ip_address=client_ip(request), user_agent=request.headers.get("user-agent"))


@router.post("/register", status_code=status.HTTP_201_CREATED, responses=errors(409))
async def register(data: UserCreate, users: RegistrationServiceDep) -> Envelope[UserRead]:
    """Create an account. 409 when the email, username or phone number is taken."""
    user = await users.register(data)
    return Envelope(message="Account created", data=UserRead.model_validate(user))


@router.post("/login", responses=errors(401, 403))
async def login(
    data: LoginRequest, request: Request, auth: AuthServiceDep
) -> Envelope[TokenPair | MfaChallengeRead]:
    """Sign in with email and password; opens a login session for this device.

    With two-factor authentication on, answers `{mfa_required, mfa_token, expires_in}`
    instead: finish with `POST /auth/mfa/verify`. 403 `account_disabled`, or
    `email_not_verified` when REQUIRE_EMAIL_VERIFICATION is on (a fresh link is mailed).
    """
    issued = await auth.login(data.email, data.password, client=_client(request))
    if isinstance(issued, MfaRequired):
        return Envelope(
            message="Second factor required", data=MfaChallengeRead.model_validate(issued)
        )
    return Envelope(message="Logged in", data=TokenPair.model_validate(issued))


@router.post("/mfa/verify", responses=errors(401))
async def verify_mfa(
    data: MfaVerifyRequest, request: Request, auth: AuthServiceDep
) -> Envelope[TokenPair]:
    """Finish a sign-in with MFA: the `mfa_token` of the login and a TOTP or recovery code.

    A wrong code is 401 and counts against LOGIN_RATE_LIMIT (then 429); the `mfa_token` stays
    usable until it expires or succeeds once.
    """
    issued = await auth.complete_mfa(data.mfa_token, data.code, client=_client(request))
    return Envelope(message="Logged in", data=TokenPair.model_validate(issued))


_FORM = "application/x-www-form-urlencoded"
_TOKEN_FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {_FORM: {"schema": TokenRequest.model_json_schema()}},
    }
}


@router.post(
    "/token",
    response_model=OAuth2Token,
    responses=oauth2_errors(400, 401, 403, or_envelope=(429,)),
    openapi_extra=_TOKEN_FORM_BODY,
)
async def token(request: Request, auth: AuthServiceDep) -> OAuth2Token | JSONResponse:
    """OAuth2 password flow (`username` is the email), for the docs' Authorize button.

    Answers in the RFC 6749 shape, errors included: `{error, error_description}`; a malformed
    form is 400 `invalid_request`, another grant type 400 `unsupported_grant_type`, an account
    with two-factor sign-in 400 `invalid_grant` (it must use /auth/login), a disabled or
    unverified account 403 `invalid_grant`. An API key is refused like on every /auth/* route:
    403 `insufficient_scope` when it is live, else 401 `invalid_client`.
    """
    refused = await _refuse_api_key(request)
    if refused is not None:
        return refused
    form = await _token_form(request)
    if isinstance(form, JSONResponse):
        return form
    try:
        issued = await auth.login(
            form.username, form.password, client=_client(request), second_step=False
        )
    except SecondStepRequired:
        return _oauth2_error(
            400, "invalid_grant", "This account uses two-factor sign-in: use /auth/login"
        )
    except ParleyError as error:
        if error.status >= 500:
            raise  # an outage is the envelope's 503, like on every route
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        return _oauth2_error(error.status, "invalid_grant", error.message, headers)
    assert isinstance(issued, IssuedTokens)  # second_step=False never answers a challenge
    return OAuth2Token.model_validate(issued)


async def _refuse_api_key(request: Request) -> JSONResponse | None:
    """The RFC 6749 answer to a request that presents an API key, or None when it presents
    none (decision 166)."""
    try:
        await refuse_api_key(request)
    except ParleyError as error:
        if error.status >= 500:
            raise  # an outage is the envelope's 503, like on every route
        if error.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
            return _oauth2_error(401, "invalid_client", error.message, headers)
        return _oauth2_error(error.status, "insufficient_scope", error.message)
    return None


async def _token_form(request: Request) -> TokenRequest | JSONResponse:
    """Read the password grant form, or the RFC 6749 answer to a malformed one."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != _FORM:
        return _oauth2_error(400, "invalid_request", f"The body must be an {_FORM} form")
    form = await request.form()
    repeated = sorted({name for name in form if len(form.getlist(name)) > 1})
    if repeated:
        return _oauth2_error(400, "invalid_request", f"Repeated parameter: {', '.join(repeated)}")
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    try:
        return TokenRequest.model_validate(fields)
    except ValidationError as exc:
        wrong = sorted({str(e["loc"][0]) for e in exc.errors()})
    if wrong == ["grant_type"] and fields["grant_type"]:
        return _oauth2_error(400, "unsupported_grant_type", "Only the password grant is supported")
    # Names only: an error never echoes what the client sent.
    return _oauth2_error(400, "invalid_request", f"Missing or invalid: {', '.join(wrong)}")


def _oauth2_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=headers)


@router.post("/refresh", response_model=Envelope[TokenPair], responses=errors(401))
@answers(503)  # it opens the database itself, as the session dependency would
async def refresh(data: RefreshRequest, request: Request) -> Response:
    """Exchange a refresh token for a new pair; the old refresh token stops working."""
    # Bytes written from the rows; the response_model still documents them.
    body = await hot_paths(request).refresh(data.refresh_token)
    return Response(body, media_type="application/json")


@router.post("/logout")
async def logout(principal: CurrentPrincipal, auth: AuthServiceDep) -> Envelope[None]:
    """Revoke the current login session: its tokens stop working at once."""
    await auth.logout(principal)
    return Envelope(message="Logged out", data=None)


@router.post("/logout-all")
async def logout_all(principal: CurrentPrincipal, auth: AuthServiceDep) -> Envelope[None]:
    """Revoke every login session of the caller, this one included."""
    await auth.logout_all(principal.user.id)
    return Envelope(message="Logged out of every session", data=None)


@router.get("/sessions")
async def list_sessions(
    principal: CurrentPrincipal, auth: AuthServiceDep, page: PageDep, resources: ResourcesDep
) -> Envelope[Page[LoginSessionRead]]:
    """List the caller's active login sessions (devices), newest first."""
    scope = list_scope("login-sessions", principal.user.id)
    before = resources.cursors.decode_id(page.cursor, scope=scope)
    rows = await auth.list_login_sessions(principal.user.id, limit=page.limit + 1, before=before)
    items = [
        LoginSessionRead.model_validate(row).model_copy(
            update={"current": row.id == principal.login_session_id}
        )
        for row in rows[: page.limit]
    ]
    next_cursor = (
        resources.cursors.encode_id(rows[page.limit - 1].id, scope=scope)
        if len(rows) > page.limit
        else None
    )
    return Envelope(message="Login sessions", data=Page(items=items, next_cursor=next_cursor))


@router.delete("/sessions/{login_session_id}")
async def revoke_session(
    login_session_id: UUID, principal: CurrentPrincipal, auth: AuthServiceDep
) -> Envelope[None]:
    """Revoke one of the caller's login sessions; another user's is 404."""
    await auth.revoke_login_session(login_session_id, user_id=principal.user.id)
    return Envelope(message="Login session revoked", data=None)


@router.post("/password/change")
async def change_password(
    data: PasswordChange, principal: CurrentPrincipal, auth: AuthServiceDep
) -> Envelope[None]:
    """Change the password; every other login session is revoked."""
    await auth.change_password(
        principal, current_password=data.current_password, new_password=data.new_password
    )
    return Envelope(message="Password changed", data=None)


@router.post("/password/forgot", status_code=status.HTTP_202_ACCEPTED)
async def forgot_password(data: PasswordForgot, auth: AuthServiceDep) -> Envelope[None]:
    """Mail a reset link if an account has this email; the answer never tells."""
    await auth.forgot_password(data.email)
    return Envelope(
        message="If an account exists for this email, a reset link has been sent", data=None
    )


@router.post("/password/reset")
async def reset_password(data: PasswordReset, auth: AuthServiceDep) -> Envelope[None]:
    """Set a new password with a reset token; every login session is revoked."""
    await auth.reset_password(data.token, data.new_password)
    return Envelope(message="Password reset", data=None)
