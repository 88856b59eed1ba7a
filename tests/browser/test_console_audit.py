"""The audit log in the console: the caller's own history, and everyone's for admins with
filters."""

from collections.abc import Callable

from playwright.sync_api import expect

from tests.browser.conftest import (
    RecordedPage,
    User,
    axe_violations,
    register,
    sign_in,
)
from tests.support.parley_server import ParleyServer


def test_a_user_reads_their_own_sign_ins(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    page = sign_in(open_page(), user)

    page.get_by_role("link", name="Audit log").click()

    expect(page.get_by_role("cell", name="auth.login").first).to_be_visible()
    expect(page.get_by_role("cell", name="auth.register")).to_be_visible()
    expect(page.get_by_role("button", name="Everyone")).to_have_count(0)
    assert axe_violations(page) == []


def test_an_admin_filters_everyones_history_by_action(
    open_page: Callable[..., RecordedPage], admin_user: User, server: ParleyServer
) -> None:
    register(server.base, prefix="audited")
    page = sign_in(open_page(), admin_user)
    page.get_by_role("link", name="Audit log").click()

    page.get_by_role("button", name="Everyone").click()
    page.get_by_label("Action").fill("auth.register")
    page.get_by_role("button", name="Filter").click()

    actions = page.locator("tbody td:nth-child(2)")
    expect(actions.first).to_have_text("auth.register")
    assert set(actions.all_inner_texts()) == {"auth.register"}
    assert axe_violations(page) == []


def test_a_bad_filter_is_explained_in_words(
    open_page: Callable[..., RecordedPage], admin_user: User
) -> None:
    page = sign_in(open_page(), admin_user)
    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("button", name="Everyone").click()

    page.get_by_label("Actor id").fill("not-a-uuid")
    page.get_by_role("button", name="Filter").click()

    expect(page.get_by_role("alert")).to_contain_text("actor_id")


# A datetime-local value (the browser's own time zone) `hours` from now.
LOCAL_INPUT = """hours => {
  const at = new Date(Date.now() + hours * 3600e3);
  at.setMinutes(at.getMinutes() - at.getTimezoneOffset());
  return at.toISOString().slice(0, 16);
}"""


def test_an_admin_filters_everyones_history_by_time(
    open_page: Callable[..., RecordedPage], admin_user: User, server: ParleyServer
) -> None:
    audited = register(server.base, prefix="timed")
    page = sign_in(open_page(), admin_user)
    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("button", name="Everyone").click()
    page.get_by_label("Action").fill("auth.register")
    targets = page.locator("tbody td[data-label='Target']")

    # Everything this server recorded is newer than an hour ago.
    page.get_by_label("Until").fill(page.evaluate(LOCAL_INPUT, -1))
    with page.expect_request(lambda r: "/api/v1/audit?" in r.url and "until=" in r.url):
        page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No audit entries.")).to_be_visible()
    expect(targets).to_have_count(0)

    page.get_by_label("Until").fill("")
    page.get_by_label("Since").fill(page.evaluate(LOCAL_INPUT, -1))
    page.get_by_role("button", name="Filter").click()
    expect(targets.filter(has_text=f"user …{audited.id[-8:]}").first).to_be_visible()

    page.get_by_label("Since").fill(page.evaluate(LOCAL_INPUT, 1))
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No audit entries.")).to_be_visible()
