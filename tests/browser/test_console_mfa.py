"""Two-factor sign-in in the console: TOTP set up on the security page, then the code step at
sign-in (a TOTP code or a recovery code), new recovery codes, and turning it off."""

from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    RecordedPage,
    User,
    axe_violations,
    sign_in,
    totp,
)
from tests.support.parley_server import ParleyServer


def turn_on_totp(page: Page, account: User) -> tuple[str, list[str]]:
    """Set up TOTP through the security page; the secret and the recovery codes it showed."""
    page.get_by_role("link", name="Security").click()
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    secret = page.locator("code.secret-value").inner_text().strip()
    assert axe_violations(page) == []
    page.get_by_label("Code from the app").fill(totp(secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("Two-factor sign-in is on.").first).to_be_visible()
    codes = [c.strip() for c in page.locator("ul.codes code").all_inner_texts()]
    assert len(codes) == 10
    return secret, codes


def start_sign_in(recorded: RecordedPage, account: User) -> Page:
    page = recorded.page
    page.goto(f"{recorded.base}/console/")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-factor code")).to_be_visible()
    return page


def test_totp_is_set_up_and_then_asked_for_at_sign_in(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    secret, _codes = turn_on_totp(page, user)
    page.get_by_role("button", name="Sign out").click()

    page = start_sign_in(open_page(), user)
    assert axe_violations(page) == []
    page.get_by_label("Code from your authenticator app, or a recovery code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid or already used two-factor code")
    # The next step's code: the one that turned TOTP on was used, and is refused again.
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(
        totp(secret, step_offset=1)
    )
    page.get_by_role("button", name="Verify").click()

    expect(page.get_by_role("heading", name="Chat sessions", level=1)).to_be_visible()


def test_a_recovery_code_signs_in_once(open_page: Callable[..., RecordedPage], user: User) -> None:
    page = sign_in(open_page(), user)
    _secret, codes = turn_on_totp(page, user)

    page = start_sign_in(open_page(), user)
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Chat sessions", level=1)).to_be_visible()

    page = start_sign_in(open_page(), user)
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid or already used two-factor code")


def test_a_wrong_password_at_setup_is_shown_in_words(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    page = sign_in(open_page(), user)
    page.get_by_role("link", name="Security").click()

    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Set up two-factor sign-in").click()

    expect(page.get_by_role("alert")).to_have_text(
        "Password is incorrect — body.password: is incorrect"
    )
    expect(page.locator("code.secret-value")).to_have_count(0)


def verify_at_sign_in(server: ParleyServer, account: User, code: str) -> int:
    """The status of signing in through the API with `code` as the second factor."""
    challenge = account.login(server.base)
    assert challenge["mfa_required"] is True, challenge
    answer = httpx.post(
        f"{server.base}/api/v1/auth/mfa/verify",
        json={"mfa_token": challenge["mfa_token"], "code": code},
    )
    return answer.status_code


def test_new_recovery_codes_replace_the_old_set(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    page = sign_in(open_page(), user)
    _secret, old = turn_on_totp(page, user)

    page.get_by_label("Password").fill(user.password)
    page.get_by_label("Current code").fill(old[0])
    page.get_by_role("button", name="New recovery codes").click()

    shown = page.locator("ul.codes code")
    expect(shown).to_have_count(10)
    expect(shown.first).not_to_have_text(old[0])
    new = [c.strip() for c in shown.all_inner_texts()]
    assert not set(new) & set(old)
    assert verify_at_sign_in(server, user, old[1]) == 401
    assert verify_at_sign_in(server, user, new[0]) == 200


def test_two_factor_sign_in_is_turned_off(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    page = sign_in(open_page(), user)
    _secret, codes = turn_on_totp(page, user)

    page.get_by_label("Password").fill(user.password)
    page.get_by_label("Current code").fill(codes[0])
    page.get_by_role("button", name="Turn off").click()

    expect(page.locator(".notice[role=status]")).to_have_text("Two-factor sign-in is off.")
    expect(page.get_by_role("button", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.locator("ul.codes")).to_have_count(0)
    signed_in = user.login(server.base)
    assert "access_token" in signed_in and not signed_in.get("mfa_required")
