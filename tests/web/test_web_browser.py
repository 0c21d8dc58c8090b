"""The dashboard in a real headless chromium against ``minewatch serve`` on loopback: the map
with its layers and time slider, the reviewers' queue, an alert validated by an analyst, the
public view, the site chart and the Azerbaijani dashboard. Screenshots are saved to look at."""

from __future__ import annotations

import re

import pytest

from minewatch.reports.i18n import Translator, source_messages

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _visible(page, layer: str) -> str:
    return page.evaluate(f"mwMap.getLayoutProperty('{layer}', 'visibility') || 'visible'")


def test_map_layers_imagery_tiles_and_time_slider(page_as, server, screenshots):
    page = page_as("analyst")
    tiles = []
    page.on("response", lambda r: tiles.append(r) if "/ui/tiles/" in r.url else None)
    page.goto(server["base"] + "/ui/")
    page.wait_for_selector("#map[data-loaded=true]")
    page.wait_for_function("mwMap.areTilesLoaded()")
    n_alerts = len(server["summary"]["alerts"])
    assert n_alerts >= 2, "the demo run has alerts to show"
    assert page.text_content("#alert-count") == f"{n_alerts} of {n_alerts} alerts shown"
    # imagery tiles came from the run's COGs as PNGs
    ok = [r for r in tiles if r.status == 200]
    assert ok and all(r.headers["content-type"] == "image/png" for r in ok)
    assert int(page.get_attribute("#map", "data-alerts")) == n_alerts
    assert int(page.get_attribute("#map", "data-licences")) > 0
    assert int(page.get_attribute("#map", "data-receptors")) > 0
    assert int(page.get_attribute("#map", "data-flowpaths")) > 0
    page.screenshot(path=str(screenshots / "map-analyst.png"))

    # toggle layers: off and on again, and the footprint on
    assert _visible(page, "alerts-fill") == "visible"
    page.uncheck("#layer-alerts")
    assert _visible(page, "alerts-fill") == "none" and _visible(page, "alerts-line") == "none"
    page.uncheck("#layer-licences")
    assert _visible(page, "licences-line") == "none"
    page.check("#layer-footprint")
    page.check("#layer-before")
    page.uncheck("#layer-after")
    assert _visible(page, "footprint") == "visible" and _visible(page, "imagery-after") == "none"
    page.wait_for_function("mwMap.areTilesLoaded()")
    page.screenshot(path=str(screenshots / "map-footprint-before.png"))
    page.check("#layer-alerts")
    assert _visible(page, "alerts-fill") == "visible"

    # the time slider: at the earliest onset only the first alerts show; the label says the date
    onsets = sorted(a["onset_date"] for a in server["summary"]["alerts"])
    slider = page.locator("#onset-slider")
    slider.focus()
    page.keyboard.press("Home")
    first = sum(1 for d in onsets if d == onsets[0])
    assert page.text_content("#alert-count") == f"{first} of {n_alerts} alerts shown"
    day = int(page.input_value("#onset-slider"))
    assert page.evaluate("mwMap.getFilter('alerts-fill')") == ["<=", ["get", "onset_day"], day]
    page.keyboard.press("End")
    assert page.text_content("#alert-count") == f"{n_alerts} of {n_alerts} alerts shown"
    page.keyboard.press("Home")
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshots / "map-slider-earliest.png"))


def test_queue_sorts_filters_and_opens_with_the_keyboard(page_as, server, screenshots):
    page = page_as("viewer")
    page.goto(server["base"] + "/ui/queue")
    page.wait_for_selector("#queue[data-loaded=true]")
    alerts = server["summary"]["alerts"]
    rows = page.locator("#queue tbody tr")
    assert rows.count() == len(alerts)
    page.click("th button[data-sort=area_ha]")  # ascending area
    areas = [float(x.replace("\u2009", "")) for x in
             page.locator("#queue tbody tr td:nth-child(4)").all_text_contents()]
    assert areas == sorted(areas)
    assert page.get_attribute("th:nth-child(4)", "aria-sort") == "ascending"
    page.click("th button[data-sort=area_ha]")
    assert page.get_attribute("th:nth-child(4)", "aria-sort") == "descending"
    outside = [a for a in alerts if a["licence_status_at_onset"] != "active"]
    page.select_option("#f-licence", "outside")
    assert rows.count() == len(outside)
    page.select_option("#f-licence", "")
    page.screenshot(path=str(screenshots / "queue-viewer.png"), full_page=True)
    # keyboard: "/" to search, arrows to move, Enter to open
    page.keyboard.press("Escape")
    page.locator("h1").click()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    second = page.evaluate("document.activeElement.dataset.alertId")
    assert second == rows.nth(1).get_attribute("data-alert-id")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/alerts/{second}")
    page.wait_for_selector("#alert[data-loaded=true]")
    # a viewer reads but does not review
    assert page.locator("#review-form").is_hidden()


def test_analyst_validates_an_alert_and_the_public_sees_only_published_ones(page_as, server, screenshots):
    public = page_as(None)
    public.goto(server["base"] + "/ui/queue")
    public.wait_for_selector("#queue[data-loaded=true]")
    before = public.locator("#queue tbody tr").count()

    page = page_as("analyst")
    page.goto(server["base"] + "/ui/queue")
    page.wait_for_selector("#queue[data-loaded=true]")
    new_ids = [r.get_attribute("data-alert-id") for r in page.locator("#queue tbody tr").all()
               if r.locator(".state").text_content() == "new"]
    target, other = new_ids[0], new_ids[1]
    page.goto(server["base"] + f"/ui/alerts/{target}")
    page.wait_for_selector("#alert[data-loaded=true]")
    page.wait_for_selector("#map-before[data-loaded=true]")
    page.wait_for_selector("#map-after[data-loaded=true]")
    for fact in ("where", "since", "area", "licence", "downstream", "sure", "evidence"):
        assert page.text_content(f"#fact-{fact}").strip() not in ("", "—"), fact
    assert "ha of land turned into mining ground" in page.text_content("#alert-lead")
    page.screenshot(path=str(screenshots / "alert-analyst-new.png"), full_page=True)

    page.fill("#review-comment", "pit visible on both dates")
    page.click("button[data-state=pre-validated]")
    page.wait_for_function("document.querySelector('#review-state-value').textContent === 'pre-validated'")
    page.fill("#review-comment", "checked against the licence register")
    assert page.is_checked("#review-publish")
    page.click("button[data-state=validated]")
    page.wait_for_function("document.querySelector('#review-state-value').textContent === 'validated'")
    history = page.locator("#review-history li").all_text_contents()
    assert len(history) == 2 and "by analyst" in history[0] and "checked against" in history[1]
    assert "published" in page.text_content("#review-state")
    page.screenshot(path=str(screenshots / "alert-analyst-validated.png"), full_page=True)

    # the public: the validated, published alert appears; an unpublished one stays hidden
    public.reload()
    public.wait_for_selector("#queue[data-loaded=true]")
    shown = [r.get_attribute("data-alert-id") for r in public.locator("#queue tbody tr").all()]
    assert target in shown and other not in shown and len(shown) == before + 1
    assert "public view" in public.text_content("#whoami")
    public.screenshot(path=str(screenshots / "queue-public.png"), full_page=True)
    public.goto(server["base"] + f"/ui/alerts/{other}")
    public.wait_for_function("document.querySelector('#alert-lead').textContent.length > 0")
    assert "not public yet" in public.text_content("#alert-lead")
    public.goto(server["base"] + f"/ui/alerts/{target}")
    public.wait_for_selector("#alert[data-loaded=true]")
    assert public.locator("#review-form").is_hidden()
    public.goto(server["base"] + "/ui/")
    public.wait_for_selector("#map[data-loaded=true]")
    assert int(public.get_attribute("#map", "data-alerts")) == len(shown)
    assert int(public.get_attribute("#map", "data-licences")) == 0
    assert public.locator("#layer-licences").is_hidden() and public.locator("#layer-alerts").is_visible()
    public.screenshot(path=str(screenshots / "map-public.png"))


def test_site_page_draws_area_over_time(page_as, server, screenshots):
    page = page_as("viewer")
    page.goto(server["base"] + "/ui/sites/DEMO")
    page.wait_for_selector("#site[data-loaded=true]")
    assert page.locator("#area-chart svg path").count() == 2
    last = server["summary"]["disturbance"]["timeline"][-1]
    assert f"{last['total_ha']:.2f} ha in all" in page.text_content("#area-chart")
    assert page.locator("#site-alerts li a").count() == len(server["summary"]["alerts"])
    page.screenshot(path=str(screenshots / "site-viewer.png"), full_page=True)


@pytest.mark.parametrize("lang", ["az", "es"])
def test_dashboard_pages_show_no_english_text_when_translated(page_as, server, screenshots, lang):
    """Every page in ``lang``: no English source text that has a translation is left on screen."""
    t = Translator(lang)
    english = sorted((m for m in source_messages() if isinstance(m, str) and "%(" not in m
                      and len(m) >= 12 and t.gettext(m) != m), key=len, reverse=True)
    page = page_as("analyst")
    for path, ready in (("/ui/", "#map[data-loaded=true]"), ("/ui/queue", "#queue[data-loaded=true]"),
                        ("/ui/sites/DEMO", "#site[data-loaded=true]")):
        page.goto(server["base"] + path + f"?lang={lang}")
        page.wait_for_selector(ready)
        assert page.get_attribute("html", "lang") == lang
        text = page.inner_text("body")
        left = [m for m in english if m in text]
        assert not left, f"{path} in {lang} shows English: {left[:3]}"
    alert_id = page.get_attribute("#site-alerts li a", "href").rsplit("/", 1)[1]
    page.goto(server["base"] + f"/ui/alerts/{alert_id}")  # the language cookie carries over
    page.wait_for_selector("#alert[data-loaded=true]")
    text = page.inner_text("body")
    for r in server["summary"]["receptors_at_risk"]:  # data (names), not interface text
        text = text.replace(r["name"], "")
    assert not [m for m in english if m in text]
    assert re.search(r"\d,\d\d ha", text), "decimal comma"
    page.screenshot(path=str(screenshots / f"alert-{lang}.png"), full_page=True)
