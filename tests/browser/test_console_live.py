"""The conversation updates live from the event stream (a ticket, then EventSource), and
reconnects with a fresh ticket."""

from collections.abc import Callable

from playwright.sync_api import Route, expect

from tests.browser.conftest import RecordedPage, User, api, arrival_ms, sign_in
from tests.browser.test_console_flows import new_session, session_id
from tests.support.parley_server import ParleyServer


def post_elsewhere(server: ParleyServer, account: User, sid: str, text: str) -> None:
    token = account.login(server.base)["access_token"]
    with api(server.base, token) as client:
        posted = client.post(
            f"/sessions/{sid}/messages", json={"content": text, "sender": "customer"}
        )
        assert posted.status_code == 201, posted.text


def test_a_message_posted_by_another_client_arrives_through_the_stream(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    new_session(page, "Streamed")
    sid = session_id(page)
    expect(page.get_by_text("Live: new messages appear")).to_be_visible()

    latency = arrival_ms(
        page, "Streamed in", lambda: post_elsewhere(server, user, sid, "Streamed in")
    )

    expect(page.locator(".message.customer .content")).to_have_text(["Streamed in"])
    print(f"\nlive update through the stream: posted → on screen in {latency:.0f} ms")
    streams = [u for u in recorded.requests if "/api/v1/events/stream?" in u]
    assert streams and all("ticket=" in u and f"session_id={sid}" in u for u in streams)
    # Delivered by the stream: the page reads the messages when it opens and once more when the
    # stream opens (to catch up on the gap), and does not poll them while it has a stream.
    polls = [u for u in recorded.requests if f"/sessions/{sid}/messages?" in u]
    assert len(polls) == 2, polls


def test_a_dropped_stream_reconnects_with_a_fresh_ticket(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = recorded.page
    dropped: list[str] = []

    def drop(route: Route) -> None:
        dropped.append(route.request.url)
        route.abort()

    # Only the first stream is dropped; an intercepted stream would be buffered, so the route
    # goes away after its one use.
    page.route("**/api/v1/events/stream?*", drop, times=1)
    sign_in(recorded, user)
    new_session(page, "Reconnecting")
    sid = session_id(page)
    page.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/api/v1/events/ticket')).length >= 2"
    )

    post_elsewhere(server, user, sid, "After the drop")

    expect(page.locator(".message.customer .content")).to_have_text(["After the drop"])
    assert dropped


def test_a_message_posted_while_the_stream_reopens_is_not_missed(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = recorded.page
    tickets: list[str] = []

    def post_then_continue(route: Route) -> None:
        tickets.append(route.request.url)
        if len(tickets) == 2:
            # Committed before the second stream starts: not in it, and after the page's reads.
            post_elsewhere(server, user, session_id(page), "Posted in the gap")
        route.continue_()

    page.route("**/api/v1/events/stream?*", lambda route: route.abort(), times=1)
    page.route("**/api/v1/events/ticket", post_then_continue)
    sign_in(recorded, user)
    new_session(page, "Reopening")

    expect(page.locator(".message.customer .content")).to_have_text(["Posted in the gap"])
    expect(page.get_by_text("Live: new messages appear")).to_be_visible()
    assert len(tickets) == 2
