"""Take the README's screenshots of the console at 360 px and 1280 px into docs/console/.

Starts a `parley serve` on SQLite in a temporary directory, fills it with a little data through
the API and photographs the main screens with Debian's Chromium (apt-get install chromium).
Run: .venv/bin/python scripts/console_screenshots.py
(with --full-page DIR: whole pages into DIR instead, to check what lies below the fold)
"""

import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from tests.browser.conftest import (  # noqa: E402
    ADMIN_EMAIL,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    RecordedPage,
    User,
    api,
    sign_in,
)
from tests.browser.test_console_webhooks import Receiver  # noqa: E402
from tests.support.parley_server import running_parley  # noqa: E402

OUT = ROOT / "docs" / "console"
FULL_PAGE = "--full-page" in sys.argv
if FULL_PAGE:
    OUT = Path(sys.argv[sys.argv.index("--full-page") + 1]).resolve()
WIDTHS = {"mobile": (360, 740), "desktop": (1280, 800)}
# The API key made on each width's screenshot.
NEW_KEY = {"mobile": "Delivery tracker", "desktop": "Warehouse order bot"}
# What the customer writes while each conversation screenshot is open.
LIVE = {
    "mobile": "Great, thank you! Can it be left with a neighbour?",
    "desktop": "Also, could you text me when the courier is close?",
}


def picture(width: int = 320, height: int = 180) -> bytes:
    """A PNG of a sunset-coloured gradient with a horizon, to stand in for a product photo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            if y > height * 0.7:
                rows += bytes((40, 60 + y % 20, 90))
            else:
                rows += bytes((250 - y // 2, 120 + x // 6, 60 + y // 2))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def furnish(base: str, admin: User, hook_url: str) -> tuple[str, str, str, str]:
    """Sample data through the API: a token, the conversation's id, the webhook's and the id of
    a conversation to watch a live message arrive in."""
    for email in ("marta@example.com", "joao@example.com"):
        httpx.post(f"{base}/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    token = admin.login(base, user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
    with api(base, token["access_token"]) as client:
        # Made first, so that the sample conversation below fills its delivery log.
        hook: str = client.post(
            "/webhooks",
            json={
                "url": hook_url,
                "events": ["message.created", "session.created"],
                "description": "Orders to the warehouse",
            },
        ).json()["data"]["id"]
        for name, scope in (("Shop front sync", "read"), ("Stock updater", "write")):
            client.post("/api-keys", json={"name": name, "scope": scope, "expires_in_days": 90})
        client.post("/sessions", json={"title": "Wholesale enquiries"})
        sid: str = client.post("/sessions", json={"title": "Spring boots order"}).json()["data"][
            "id"
        ]
        messages = f"/sessions/{sid}/messages"
        client.post(messages, json={"content": "Hi! Do you have the blue boots in 38?"})
        client.post(messages, json={"content": "We do. Here they are:", "sender": "customer"})
        client.post(messages, files={"file": ("boots.png", picture())})
        client.post(
            messages, json={"content": "Perfect, I'll take two pairs.", "sender": "customer"}
        )
        client.post(
            f"/sessions/{sid}/vendor", json={"name": "Acme Shoes", "phone_number": "+14155550123"}
        )
        for name, product, benefits in (
            ("Ana Ribeiro", "Leather boots", "Free resoling for a year"),
            ("Bruno Costa", "Cotton shirts", "Next-day delivery in Lisbon"),
        ):
            client.post(
                f"/sessions/{sid}/sellers",
                json={"name": name, "product": product, "benefits": benefits},
            )
        live: str = client.post("/sessions", json={"title": "Order 1042 delivery"}).json()["data"][
            "id"
        ]
        client.post(
            f"/sessions/{live}/messages",
            json={"content": "Hello, is order 1042 on its way?", "sender": "customer"},
        )
        client.post(
            f"/sessions/{live}/messages", json={"content": "It left the warehouse this morning."}
        )
        client.post(f"/webhooks/{hook}/test")
        # Deliveries run in the background: wait (generously) until the log has settled.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log = client.get(f"/webhooks/{hook}/deliveries").json()["data"]["items"]
            if log and all(d["status"] == "succeeded" for d in log):
                break
            time.sleep(0.5)
    return token["access_token"], sid, hook, live


def post_live(base: str, token: str, sid: str, content: str) -> None:
    with api(base, token) as client:
        client.post(f"/sessions/{sid}/messages", json={"content": content, "sender": "customer"})


def shoot(page: Page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    # A page reached by its hash loads in the same document: wait for its lists, not the load.
    page.wait_for_function("() => !document.body.innerText.includes('Loading')")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=FULL_PAGE)


def main() -> None:
    if not CHROMIUM.exists():
        raise SystemExit("needs /usr/bin/chromium (apt-get install chromium)")
    OUT.mkdir(parents=True, exist_ok=True)
    env = {
        "FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
        "FIRST_ADMIN_PASSWORD": PASSWORD,
        # The sample webhook delivers to a receiver on loopback.
        "WEBHOOK_ALLOW_PRIVATE": "true",
    }
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as workdir, running_parley(Path(workdir), env=env) as server:
        admin = User(email=ADMIN_EMAIL, password=PASSWORD, id="")
        token, sid, hook, live = furnish(server.base, admin, receiver.url)
        with sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            for label, (width, height) in WIDTHS.items():
                context = browser.new_context(viewport={"width": width, "height": height})
                recorded = RecordedPage(context.new_page(), server.base)
                page = recorded.page
                page.goto(f"{server.base}/console/")
                page.get_by_role("heading", name="Sign in to Parley").wait_for()
                shoot(page, f"sign-in-{label}")
                sign_in(recorded, admin)
                for fragment, name in (
                    ("#/sessions", "sessions"),
                    (f"#/sessions/{sid}", "conversation"),
                    ("#/sellers", "catalogue"),
                    ("#/devices", "devices"),
                    ("#/users", "users"),
                ):
                    page.goto(f"{server.base}/console/{fragment}")
                    page.get_by_role("heading", level=1).wait_for()
                    if name == "conversation":
                        page.get_by_role("img", name="boots.png").wait_for()
                    shoot(page, f"{name}-{label}")

                page.goto(f"{server.base}/console/#/security")
                page.get_by_role("heading", name="Security", level=1).wait_for()
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Set up two-factor sign-in").click()
                page.locator("code.secret-value").wait_for()
                shoot(page, f"security-{label}")

                page.goto(f"{server.base}/console/#/api-keys")
                page.get_by_role("heading", name="API keys", level=1).wait_for()
                page.get_by_label("Name").fill(NEW_KEY[label])
                page.get_by_label("Scope").select_option("write")
                page.get_by_role("button", name="Create key").click()
                page.locator("code.secret-value").wait_for()
                shoot(page, f"api-keys-{label}")

                page.goto(f"{server.base}/console/#/audit")
                page.get_by_role("heading", name="Audit log", level=1).wait_for()
                page.get_by_role("cell", name="api_key.created").first.wait_for()
                shoot(page, f"audit-{label}")

                page.goto(f"{server.base}/console/#/webhooks/{hook}")
                page.get_by_role("heading", name="Webhook", level=1).wait_for()
                page.locator("tbody").get_by_text("succeeded", exact=True).first.wait_for()
                shoot(page, f"webhooks-{label}")

                page.goto(f"{server.base}/console/#/sessions/{live}")
                page.get_by_text("Live: new messages appear").wait_for()
                page.wait_for_load_state("networkidle")
                post_live(server.base, token, live, LIVE[label])
                page.get_by_text(LIVE[label]).wait_for()
                shoot(page, f"live-{label}")
                context.close()
            browser.close()
    receiver.server.shutdown()
    receiver.server.server_close()
    for path in sorted(OUT.glob("*.png")):
        print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
