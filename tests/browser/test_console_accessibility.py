"""Every console page passes axe-core (no serious or critical violations), at 1280 px and at
360 px without sideways scrolling, and the console is usable by keyboard with visible focus."""

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    RecordedPage,
    User,
    api,
    axe_violations,
    sign_in,
    totp,
    wait_for_text,
)
from tests.browser.test_console_flows import png
from tests.browser.test_console_webhooks import Receiver, receiver  # noqa: F401
from tests.support.parley_server import ParleyServer


@pytest.fixture
def furnished(user: User, server: ParleyServer) -> str:
    """A chat session with a vendor, a seller, a text and an image; its id."""
    token = user.login(server.base)["access_token"]
    with api(server.base, token) as client:
        sid: str = client.post("/sessions", json={"title": "Furnished"}).json()["data"]["id"]
        client.post(f"/sessions/{sid}/messages", json={"content": "Hi", "sender": "customer"})
        client.post(f"/sessions/{sid}/messages", files={"file": ("p.png", png())})
        client.post(
            f"/sessions/{sid}/vendor", json={"name": "Acme", "phone_number": "+14155550123"}
        )
        client.post(f"/sessions/{sid}/sellers", json={"name": "Ana", "product": "Boots"})
    return sid


def pages(sid: str) -> list[tuple[str, str]]:
    return [
        ("#/sessions", "Chat sessions"),
        (f"#/sessions/{sid}", "Furnished"),
        (f"#/sessions/{sid}/vendor", "Vendor"),
        (f"#/sessions/{sid}/sellers", "Sellers"),
        ("#/sellers", "Sellers' catalogue"),
        ("#/devices", "Devices"),
    ]


def visit(page: Page, base: str, fragment: str, heading: str) -> None:
    page.goto(f"{base}/console/{fragment}")
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("width", [1280, 360])
def test_every_page_has_no_serious_accessibility_violations(
    open_page: Callable[..., RecordedPage], user: User, furnished: str, width: int
) -> None:
    recorded = open_page(width=width, height=800)
    page = recorded.page
    page.goto(f"{recorded.base}/console/")
    page.get_by_role("heading", name="Sign in to Parley").wait_for()
    assert axe_violations(page) == [], "sign-in"
    sign_in(recorded, user)

    for fragment, heading in pages(furnished):
        visit(page, recorded.base, fragment, heading)
        assert axe_violations(page) == [], fragment
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"{fragment} scrolls sideways at {width} px"


def assert_fits(page: Page, what: str, width: int) -> None:
    assert axe_violations(page) == [], what
    overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"{what} scrolls sideways at {width} px"


@pytest.mark.parametrize("width", [1280, 360])
def test_security_keys_webhooks_and_audit_pages_have_no_serious_violations(
    open_page: Callable[..., RecordedPage],
    user: User,
    server: ParleyServer,
    receiver: Receiver,  # noqa: F811
    width: int,
) -> None:
    token = user.login(server.base)["access_token"]
    with api(server.base, token) as client:
        made = client.post(
            "/webhooks",
            json={"url": receiver.url, "events": ["*"], "description": "Orders to the warehouse"},
        )
        assert made.status_code == 201, made.text
        hook = made.json()["data"]["id"]
        assert client.post(f"/webhooks/{hook}/test").status_code == 202
    recorded = open_page(width=width, height=800)
    page = sign_in(recorded, user)

    # Each page in its fullest state: a secret, a new key and a delivery log on screen.
    visit(page, recorded.base, "#/security", "Security")
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    secret = page.locator("code.secret-value")
    expect(secret).to_be_visible()
    assert_fits(page, "#/security", width)
    page.get_by_label("Code from the app").fill(totp(secret.inner_text().strip()))
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("ul.codes code")).to_have_count(10)
    assert_fits(page, "#/security with two-factor sign-in on", width)

    visit(page, recorded.base, "#/api-keys", "API keys")
    page.get_by_label("Name").fill("Warehouse order bot")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("code.secret-value")).to_be_visible()
    assert_fits(page, "#/api-keys", width)

    visit(page, recorded.base, "#/webhooks", "Webhooks")
    expect(page.get_by_role("link", name=receiver.url)).to_be_visible()
    assert_fits(page, "#/webhooks", width)
    visit(page, recorded.base, f"#/webhooks/{hook}", "Webhook")
    wait_for_text(page, "webhook.test")
    assert_fits(page, f"#/webhooks/{hook}", width)
    page.get_by_text("Edit", exact=True).click()
    expect(page.get_by_role("button", name="Save webhook")).to_be_visible()
    assert_fits(page, f"#/webhooks/{hook} editing", width)

    visit(page, recorded.base, "#/audit", "Audit log")
    expect(page.get_by_role("cell", name="api_key.created").first).to_be_visible()
    assert_fits(page, "#/audit", width)


@pytest.mark.parametrize("width", [1280, 360])
def test_the_users_page_has_no_serious_accessibility_violations(
    open_page: Callable[..., RecordedPage], admin_user: User, width: int
) -> None:
    recorded = open_page(width=width, height=800)
    page = sign_in(recorded, admin_user)
    visit(page, recorded.base, "#/users", "Users")
    expect(page.get_by_role("row").nth(1)).to_be_visible()

    assert_fits(page, "#/users", width)


@pytest.mark.parametrize("width", [1280, 360])
def test_everyones_audit_log_has_no_serious_accessibility_violations(
    open_page: Callable[..., RecordedPage], admin_user: User, width: int
) -> None:
    recorded = open_page(width=width, height=800)
    page = sign_in(recorded, admin_user)
    visit(page, recorded.base, "#/audit", "Audit log")

    page.get_by_role("button", name="Everyone").click()
    expect(page.get_by_role("button", name="Filter")).to_be_visible()
    expect(page.get_by_role("cell", name="auth.login").first).to_be_visible()

    assert_fits(page, "#/audit, everyone", width)


def test_the_two_factor_step_at_sign_in_fits_360_px(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    token = user.login(server.base)["access_token"]
    with api(server.base, token) as client:
        setup = client.post("/auth/mfa/totp/setup", json={"password": user.password})
        assert setup.status_code == 200, setup.text
        confirmed = client.post(
            "/auth/mfa/totp/confirm", json={"code": totp(setup.json()["data"]["secret"])}
        )
        assert confirmed.status_code == 200, confirmed.text
    recorded = open_page(width=360, height=740)
    page = recorded.page
    page.goto(f"{recorded.base}/console/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Two-factor code")).to_be_visible()

    assert_fits(page, "the two-factor step", 360)


def test_an_error_message_has_no_serious_accessibility_violations(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = recorded.page
    page.goto(f"{recorded.base}/console/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()

    assert axe_violations(page) == []


def test_signing_in_and_moving_around_work_by_keyboard_with_visible_focus(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = recorded.page
    page.goto(f"{recorded.base}/console/")
    page.get_by_role("heading", name="Sign in to Parley").wait_for()

    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.type") == "email"
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    page.keyboard.type(user.password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Chat sessions", level=1)).to_be_focused()

    # Tab from the page's heading to the menu's first entries: each shows where focus is.
    page.keyboard.press("Shift+Tab")
    for _ in range(3):
        page.keyboard.press("Tab")
        outline = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, s.outlineWidth]; }"
        )
        assert outline[0] != "none" and outline[1] != "0px", outline

    page.get_by_label("Title of a new session (optional)").focus()
    page.keyboard.type("Typed session")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Typed session")).to_be_focused()


def test_the_menu_folds_at_360_px_and_opens_by_keyboard(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page(width=360, height=740)
    page = sign_in(recorded, user)
    devices = page.get_by_role("link", name="Devices")
    expect(devices).to_be_hidden()

    page.get_by_role("button", name="Menu").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "true")
    devices.focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Devices", level=1)).to_be_visible()


def test_a_browser_without_javascript_is_told_the_console_needs_it(
    open_page: Callable[..., RecordedPage],
) -> None:
    recorded = open_page(javascript=False)
    page = recorded.page

    page.goto(f"{recorded.base}/console/")

    expect(page.locator("main")).to_contain_text("It needs JavaScript.")
    assert page.title()
