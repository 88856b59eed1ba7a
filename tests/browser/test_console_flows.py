"""The console's flows against today's API, in Chromium: sign-in and out, devices, chat
sessions, a conversation with uploads, the vendor, the catalogue and the users page."""

import re
import struct
import time
import uuid
import zlib
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import (
    PASSWORD,
    WAIT_MS,
    RecordedPage,
    User,
    api,
    arrival_ms,
    register,
    sign_in,
)
from tests.support.parley_server import ParleyServer


def png(width: int = 48, height: int = 32, padding: int = 0) -> bytes:
    """A real, decodable PNG (a blue rectangle), padded after its end to a size when asked."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x1d\x4e\xd8" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    image = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return image + b"\x00" * padding


def new_session(page: Page, title: str) -> None:
    page.get_by_label("Title of a new session (optional)").fill(title)
    page.get_by_role("button", name="Create session").click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()


def session_id(page: Page) -> str:
    match = re.search(r"#/sessions/([\w-]+)", page.url)
    assert match, page.url
    return match[1]


def test_a_wrong_password_is_shown_in_words_and_a_right_one_signs_in(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = recorded.page
    page.goto(f"{recorded.base}/console/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("Invalid email or password")

    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Chat sessions", level=1)).to_be_visible()
    assert recorded.errors == []


def test_tokens_stay_out_of_local_storage_and_signing_out_revokes_the_login_session(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    assert page.evaluate("() => localStorage.length") == 0
    stored = page.evaluate("() => Object.keys(sessionStorage)")
    assert stored == ["parley.refresh"]
    refresh_token = page.evaluate("() => sessionStorage.getItem('parley.refresh')")

    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_role("heading", name="Sign in to Parley")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0
    refused = httpx.post(
        f"{server.base}/api/v1/auth/refresh", json={"refresh_token": refresh_token}
    )
    assert refused.status_code == 401


def test_a_reload_keeps_the_tab_signed_in(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)

    page.reload()

    expect(page.get_by_role("heading", name="Chat sessions", level=1)).to_be_visible()
    expect(page.get_by_text(user.email)).to_be_visible()


def test_devices_list_this_one_and_revoking_it_returns_to_sign_in(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    page.get_by_role("link", name="Devices").click()

    revoke = page.get_by_role("button", name=re.compile(r"Revoke .*\(this device\)"))
    expect(revoke).to_be_visible()
    expect(page.get_by_text("this device")).to_be_visible()
    revoke.click()

    expect(page.get_by_role("heading", name="Sign in to Parley")).to_be_visible()


def test_a_device_revoked_elsewhere_is_sent_back_to_sign_in(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    other = user.login(server.base, user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
    with api(server.base, other["access_token"]) as client:
        devices = client.get("/auth/sessions").json()["data"]["items"]
        browser_device = next(d for d in devices if d["id"] != other["session_id"])
        assert client.delete(f"/auth/sessions/{browser_device['id']}").status_code == 200

    page.get_by_role("link", name="Catalogue").click()

    expect(page.get_by_role("heading", name="Sign in to Parley")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Please sign in again")


def test_another_device_can_be_revoked_from_the_list(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    other = user.login(server.base, user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
    recorded = open_page()
    page = sign_in(recorded, user)
    page.get_by_role("link", name="Devices").click()

    page.get_by_role("button", name="Revoke Firefox on Linux").click()

    expect(page.get_by_role("button", name="Revoke Firefox on Linux")).to_have_count(0)
    refused = httpx.get(
        f"{server.base}/api/v1/users/me",
        headers={"Authorization": f"Bearer {other['access_token']}"},
    )
    assert refused.status_code == 401


def test_signing_out_everywhere_ends_every_login_session_this_one_included(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    other = user.login(server.base, user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
    second = sign_in(open_page(), user)
    recorded = open_page()
    page = sign_in(recorded, user)
    page.get_by_role("link", name="Devices").click()
    expect(page.get_by_role("button", name="Revoke Firefox on Linux")).to_be_visible()

    page.get_by_role("button", name="Sign out everywhere").click()

    expect(page.get_by_role("heading", name="Sign in to Parley")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0
    refused = httpx.get(
        f"{server.base}/api/v1/users/me",
        headers={"Authorization": f"Bearer {other['access_token']}"},
    )
    assert refused.status_code == 401
    stale = httpx.post(
        f"{server.base}/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert stale.status_code == 401
    # The other browser finds out at its next request.
    second.get_by_role("link", name="Catalogue").click()
    expect(second.get_by_role("heading", name="Sign in to Parley")).to_be_visible()
    assert recorded.errors == []


def test_chat_sessions_are_created_searched_renamed_and_deleted(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    new_session(page, "Spring orders")
    page.get_by_role("link", name="Chat sessions").click()
    new_session(page, "Autumn returns")
    page.get_by_role("link", name="Chat sessions").click()
    expect(page.get_by_role("link", name="Spring orders")).to_be_visible()

    page.get_by_label("Search titles").fill("AUTUMN")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Spring orders")).to_have_count(0)
    page.get_by_role("link", name="Autumn returns").click()

    page.get_by_text("Rename or delete").click()
    page.get_by_label("Title", exact=True).fill("Autumn refunds")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", level=1, name="Autumn refunds")).to_be_visible()

    page.get_by_label("Title", exact=True).fill("   ")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("alert")).to_contain_text("title")

    page.get_by_role("button", name="Delete session").click()
    expect(page.get_by_role("heading", name="Chat sessions", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Spring orders")).to_be_visible()
    expect(page.get_by_role("link", name="Autumn refunds")).to_have_count(0)
    assert recorded.errors == []


def test_load_more_shows_the_chat_sessions_past_the_first_page(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    with api(server.base, user.login(server.base)["access_token"]) as client:
        for n in range(23):
            made = client.post("/sessions", json={"title": f"Order {n:02d}"})
            assert made.status_code == 201, made.text
    page = sign_in(open_page(), user)
    titles = page.locator("ul.cards li a")
    expect(titles).to_have_count(20)

    page.get_by_role("button", name="Load more").click()

    expect(titles).to_have_count(23)
    assert sorted(titles.all_inner_texts()) == [f"Order {n:02d}" for n in range(23)]
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)


def test_a_posted_text_appears_and_a_blank_one_is_refused_in_words(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    new_session(page, "Orders")

    with page.expect_request(lambda r: r.method == "POST" and "/messages" in r.url) as sent:
        page.get_by_label("Message", exact=True).fill("Hello, do you ship to Lisbon?")
        page.get_by_role("button", name="Send").click()
    expect(page.locator(".message .content")).to_have_text(["Hello, do you ship to Lisbon?"])
    # A careful client: a retried post could never be stored twice.
    assert re.fullmatch(r"[0-9a-f-]{36}", sent.value.headers["idempotency-key"])

    page.get_by_label("Message", exact=True).fill("   ")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("content")


def test_an_upload_shows_its_progress_and_then_its_image(
    open_page: Callable[..., RecordedPage], user: User, tmp_path: object
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    new_session(page, "Photos")
    picture = png(padding=768 * 1024)
    # A slow link, so the upload lasts long enough for its progress to be seen.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 256_000},
    )

    page.get_by_label("Attach a file").set_input_files(
        {"name": "shoe.png", "mimeType": "image/png", "buffer": picture}
    )
    page.get_by_label("Caption (optional)").fill("The blue one")
    page.get_by_role("button", name="Upload").click()

    progress = page.locator("progress")
    expect(progress).to_be_visible()
    page.wait_for_function(
        "() => { const p = document.querySelector('progress'); return p && p.value > 0; }"
    )
    image = page.get_by_role("img", name="shoe.png")
    expect(image).to_be_visible()
    expect(progress).to_have_count(0)
    assert (image.get_attribute("src") or "").startswith("blob:")
    assert image.evaluate("img => img.naturalWidth") == 48
    expect(page.locator(".message .content")).to_have_text(["The blue one"])


def test_audio_video_and_documents_get_players_and_links(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    token = user.login(server.base)["access_token"]
    with api(server.base, token) as client:
        sid = client.post("/sessions", json={"title": "Media"}).json()["data"]["id"]
        for name, payload in (
            ("voice.ogg", b"OggS\x00\x02" + b"\x00" * 64),
            ("clip.mp4", b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64),
            ("terms.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
        ):
            posted = client.post(f"/sessions/{sid}/messages", files={"file": (name, payload)})
            assert posted.status_code == 201, posted.text
    recorded = open_page()
    page = sign_in(recorded, user)

    page.goto(f"{server.base}/console/#/sessions/{sid}")

    expect(page.locator("audio[aria-label='voice.ogg']")).to_have_attribute(
        "src", re.compile("^blob:")
    )
    expect(page.locator("video[aria-label='clip.mp4']")).to_have_attribute(
        "src", re.compile("^blob:")
    )
    link = page.get_by_role("link", name=re.compile("Download terms.pdf"))
    expect(link).to_have_attribute("href", re.compile("^blob:"))
    expect(link).to_have_attribute("download", "terms.pdf")


def test_an_unsupported_upload_is_refused_in_words(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    new_session(page, "Files")

    page.get_by_label("Attach a file").set_input_files(
        {"name": "page.html", "mimeType": "text/html", "buffer": b"<html>hi</html>"}
    )
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "Unsupported file type: send JPEG, PNG, WebP, GIF, OGG, MP3, M4A/AAC, MP4 or PDF"
    )
    expect(page.locator(".message")).to_have_count(0)


def test_without_the_stream_a_message_posted_elsewhere_appears_by_polling(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = recorded.page

    def without_the_stream(route: Route) -> None:
        published = route.fetch().json()
        for path in ("/api/v1/events/ticket", "/api/v1/events/stream"):
            del published["paths"][path]
        route.fulfill(json=published)

    # A server without the event stream, as the console learns it from /openapi.json.
    page.route("**/openapi.json", without_the_stream)
    sign_in(recorded, user)
    new_session(page, "Polled")
    sid = session_id(page)
    expect(page.get_by_text("New messages are checked every 2 seconds.")).to_be_visible()
    token = user.login(server.base)["access_token"]

    def post() -> None:
        with api(server.base, token) as client:
            posted = client.post(
                f"/sessions/{sid}/messages",
                json={"content": "Posted elsewhere", "sender": "customer"},
            )
            assert posted.status_code == 201

    latency = arrival_ms(page, "Posted elsewhere", post)

    expect(page.locator(".message.customer .content")).to_have_text(["Posted elsewhere"])
    assert not [u for u in recorded.requests if "/api/v1/events/" in u]
    print(f"\nlive update by polling: posted → on screen in {latency:.0f} ms")


def test_a_conversation_deleted_elsewhere_says_so_instead_of_going_quiet(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    new_session(page, "Soon gone")
    sid = session_id(page)

    token = user.login(server.base)["access_token"]
    with api(server.base, token) as client:
        assert client.delete(f"/sessions/{sid}").status_code == 200

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Could not update the conversation")
    expect(alert).to_contain_text(re.compile("not found|deleted"))


def test_the_vendor_is_registered_edited_and_its_errors_shown(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    new_session(page, "Vendor")
    page.get_by_role("link", name="Vendor").click()

    page.get_by_label("Name").fill("Acme Shoes")
    page.get_by_label("Phone number").fill("12345")
    page.get_by_role("button", name="Register vendor").click()
    expect(page.get_by_role("alert")).to_contain_text("phone_number")

    page.get_by_label("Phone number").fill("+14155550123")
    page.get_by_role("button", name="Register vendor").click()
    expect(page.get_by_role("status")).to_contain_text("Vendor saved")

    page.get_by_label("Name").fill("Acme Boots")
    page.get_by_role("button", name="Save vendor").click()
    page.reload()
    expect(page.get_by_label("Name")).to_have_value("Acme Boots")


def test_the_vendor_is_removed(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    token = user.login(server.base)["access_token"]
    with api(server.base, token) as client:
        sid = client.post("/sessions", json={"title": "Leaving"}).json()["data"]["id"]
        made = client.post(
            f"/sessions/{sid}/vendor", json={"name": "Acme", "phone_number": "+14155550123"}
        )
        assert made.status_code == 201, made.text
    page = sign_in(open_page(), user)
    page.goto(f"{server.base}/console/#/sessions/{sid}/vendor")
    expect(page.get_by_label("Name")).to_have_value("Acme")

    page.get_by_role("button", name="Remove vendor").click()

    expect(page.get_by_role("status")).to_contain_text("Vendor removed")
    expect(page.get_by_role("button", name="Register vendor")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("")
    with api(server.base, token) as client:
        assert client.get(f"/sessions/{sid}/vendor").status_code == 404


def test_sellers_are_added_searched_and_edited_in_the_catalogue(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    new_session(page, "Catalogue")
    page.get_by_role("link", name=re.compile("^Sellers")).click()

    page.get_by_text("Add a seller").click()
    for name, product in (("Ana", "Leather boots"), ("Bruno", "Cotton shirts")):
        page.get_by_label("Name").fill(name)
        page.get_by_label("Product").fill(product)
        page.get_by_role("button", name="Add seller").click()
        expect(page.get_by_role("heading", name=name)).to_be_visible()

    page.get_by_label("Name").fill("ana")
    page.get_by_label("Product").fill("Duplicate")
    page.get_by_role("button", name="Add seller").click()
    expect(page.get_by_role("alert")).to_contain_text("name")

    page.get_by_role("link", name="Catalogue").click()
    page.get_by_label("Search name, product, description and benefits").fill("boots")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Bruno")).to_have_count(0)
    page.get_by_role("button", name="Edit Ana").click()
    page.get_by_label("Benefits", exact=True).fill("Free resoling")
    page.get_by_role("button", name="Save Ana").click()
    expect(page.get_by_text("Free resoling")).to_be_visible()

    page.get_by_role("button", name="Delete Ana").click()
    expect(page.get_by_role("heading", name="Ana")).to_have_count(0)


def test_an_admin_searches_users_changes_a_role_disables_and_deletes(
    open_page: Callable[..., RecordedPage], admin_user: User, server: ParleyServer
) -> None:
    target = register(server.base, prefix="managed")
    recorded = open_page()
    page = sign_in(recorded, admin_user)
    page.get_by_role("link", name="Users").click()

    page.get_by_label("Search email or username").fill(target.email.split("@")[0])
    page.get_by_role("button", name="Search").click()
    row = page.get_by_role("row", name=re.compile(re.escape(target.email)))
    expect(row).to_have_count(1)

    page.get_by_label(f"Role of {target.email}").select_option("admin")
    expect(page.get_by_label(f"Role of {target.email}")).to_have_value("admin")
    page.get_by_role("button", name=f"Disable {target.email}").click()
    expect(row).to_contain_text("disabled")
    login = httpx.post(
        f"{server.base}/api/v1/auth/login", json={"email": target.email, "password": PASSWORD}
    )
    assert login.status_code == 403

    page.get_by_role("button", name=f"Delete {target.email}").click()
    expect(row).to_have_count(0)


def test_a_list_answered_late_does_not_replace_the_search_that_followed_it(
    open_page: Callable[..., RecordedPage], admin_user: User, server: ParleyServer
) -> None:
    target = register(server.base, prefix="late")
    recorded = open_page()
    page = sign_in(recorded, admin_user)
    held: list[Route] = []

    def hold_the_unfiltered_list(route: Route) -> None:
        if "q=" in route.request.url:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/v1/users?*", hold_the_unfiltered_list)
    page.get_by_role("link", name="Users").click()
    page.wait_for_function("() => document.querySelector('table.cells') !== null")
    page.get_by_label("Search email or username").fill(target.email.split("@")[0])
    page.get_by_role("button", name="Search").click()
    emails = page.locator("tbody td[data-label='Email']")
    expect(emails).to_have_text([target.email])
    role = page.get_by_label(f"Role of {target.email}")
    role.select_option("admin")
    expect(role).to_have_value("admin")

    assert len(held) == 1
    with page.expect_event("requestfinished"):
        held[0].continue_()
    # The late answer is read in the page's next turns; given them, the search must still stand.
    page.wait_for_timeout(300)
    expect(emails).to_have_text([target.email])
    expect(role).to_have_value("admin")


def test_an_admin_filters_users_by_role_and_status_and_enables_a_disabled_one(
    open_page: Callable[..., RecordedPage], admin_user: User, server: ParleyServer
) -> None:
    tag = f"filtered-{uuid.uuid4().hex[:8]}"
    promoted, disabled, plain = (register(server.base, prefix=f"{tag}-{n}") for n in range(3))
    with api(server.base, admin_user.login(server.base)["access_token"]) as client:
        for account, change in ((promoted, {"role": "admin"}), (disabled, {"is_active": False})):
            changed = client.patch(f"/users/{account.id}", json=change)
            assert changed.status_code == 200, changed.text
    page = sign_in(open_page(), admin_user)
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Search email or username").fill(tag)
    emails = page.locator("tbody td[data-label='Email']")

    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Search").click()
    expect(emails).to_have_text([promoted.email])

    page.get_by_label("Role", exact=True).select_option("")
    page.get_by_label("Status").select_option("true")
    page.get_by_role("button", name="Search").click()
    expect(emails).to_have_count(2)
    assert set(emails.all_inner_texts()) == {promoted.email, plain.email}

    page.get_by_label("Status").select_option("false")
    page.get_by_role("button", name="Search").click()
    expect(emails).to_have_text([disabled.email])
    page.get_by_role("button", name=f"Enable {disabled.email}").click()

    expect(page.locator("tbody td[data-label='Status']")).to_have_text(["active"])
    expect(page.get_by_role("button", name=f"Disable {disabled.email}")).to_be_visible()
    assert disabled.login(server.base)["access_token"]


def test_a_user_who_is_not_an_admin_has_no_users_page(
    open_page: Callable[..., RecordedPage], user: User, server: ParleyServer
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    expect(page.get_by_role("link", name="Users")).to_have_count(0)

    page.goto(f"{server.base}/console/#/users")

    expect(page.get_by_role("alert")).to_contain_text("dmin")


def test_the_access_token_is_refreshed_before_it_expires(
    open_page: Callable[..., RecordedPage], short_lived_server: ParleyServer
) -> None:
    account = register(short_lived_server.base)
    recorded = open_page()
    recorded.base = short_lived_server.base
    page = sign_in(recorded, account)
    signed_in_at = time.monotonic()

    # The token lives 8 s; the page refreshes it well before, again and again.
    page.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        ".filter(e => e.name.endsWith('/api/v1/auth/refresh')).length >= 2",
        timeout=60_000,
    )
    while time.monotonic() - signed_in_at < 9:
        page.wait_for_timeout(250)
    page.get_by_role("link", name="Devices").click()

    expect(page.get_by_role("heading", name="Devices", level=1)).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("this device"))).to_be_visible()


def test_the_page_requests_nothing_from_another_origin(
    open_page: Callable[..., RecordedPage], admin_user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, admin_user)
    new_session(page, "Origins")
    for link in ("Catalogue", "Devices", "Users", "Chat sessions"):
        page.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_be_visible()

    # Every test's pages are checked for this when they close; here across the whole menu.
    assert recorded.foreign_requests() == []
    assert any("/console/assets/" in url for url in recorded.requests)
    assert recorded.errors == []


def test_a_content_security_policy_violation_is_recorded(
    open_page: Callable[..., RecordedPage], user: User
) -> None:
    recorded = open_page()
    page = sign_in(recorded, user)
    assert recorded.csp_violations == []

    # An inline style, which the console's policy refuses: the check every test's pages pass.
    page.evaluate("() => document.body.setAttribute('style', 'color: red')")

    # Both reports: the page's securitypolicyviolation event and the browser's console line.
    for _ in range(WAIT_MS // 100):
        if len(recorded.csp_violations) >= 2:
            break
        page.wait_for_timeout(100)
    assert "style-src-attr blocked inline" in recorded.csp_violations
    assert any("Content Security Policy" in v for v in recorded.csp_violations)
    recorded.csp_violations.clear()  # provoked on purpose
