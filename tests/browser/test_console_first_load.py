"""The console's first load with a cold cache: every byte the browser transferred until the
sign-in form could be used, compressed, within 250 KB; the figures are printed for the docs."""

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import RecordedPage

FIRST_LOAD_BUDGET = 250_000

MEASURE = """() => {
  const navigation = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  const interactive = performance.getEntriesByName('parley:interactive')[0];
  return {
    navigation: navigation.transferSize,
    resources: resources.map(
      r => ({name: r.name, transfer: r.transferSize, body: r.decodedBodySize})),
    interactive_ms: interactive ? interactive.startTime : null,
    dom_content_loaded_ms: navigation.domContentLoadedEventEnd,
  };
}"""


def first_load(recorded: RecordedPage) -> dict[str, Any]:
    page = recorded.page
    page.goto(f"{recorded.base}/console/")
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    page.wait_for_load_state("networkidle")
    figures: dict[str, Any] = page.evaluate(MEASURE)
    figures["transferred"] = figures["navigation"] + sum(
        r["transfer"] for r in figures["resources"]
    )
    figures["uncompressed"] = sum(r["body"] for r in figures["resources"])
    return figures


def test_the_first_load_transfers_at_most_250_kb_compressed(
    open_page: Callable[..., RecordedPage],
) -> None:
    recorded = open_page()  # a new browser context: nothing cached

    figures = first_load(recorded)

    assert figures["interactive_ms"] is not None, "the page marks when it becomes usable"
    assert all(r["transfer"] > 0 for r in figures["resources"]), "every asset came over the wire"
    assert figures["transferred"] <= FIRST_LOAD_BUDGET, figures
    print(
        f"\nconsole first load: {figures['transferred']} bytes transferred "
        f"({figures['uncompressed']} uncompressed) in {len(figures['resources']) + 1} requests; "
        f"interactive at {figures['interactive_ms']:.0f} ms"
    )


def test_a_second_load_takes_its_assets_from_the_cache(
    open_page: Callable[..., RecordedPage],
) -> None:
    recorded = open_page()
    first_load(recorded)

    again = first_load(recorded)

    assets = [r for r in again["resources"] if "/console/assets/" in r["name"]]
    assert assets and all(r["transfer"] == 0 for r in assets), assets
