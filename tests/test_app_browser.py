"""End-to-end in a real headless Chromium: upload, restore, both slider images, every tab.

Uses Playwright's Python package driving Debian's ``/usr/bin/chromium`` (no browser download);
skips cleanly when either is missing. Screenshots go to ``$RESTORELAB_SCREENSHOT_DIR``
(default: the system temp dir) for a human to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("RESTORELAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "chelsea.jpg"
SHOTS = Path(os.environ.get("RESTORELAB_SCREENSHOT_DIR") or tempfile.gettempdir())


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; no browser download needed)"
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


if _skip_reason():
    pytest.skip(_skip_reason(), allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from restorelab.ui.devtools import make_test_models

    weights = tmp_path_factory.mktemp("weights")
    make_test_models(weights)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESTORELAB_WEIGHTS_DIR", str(weights))
        mp.delenv("RESTORELAB_HUB_REPO", raising=False)
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        import app

        demo = app.build_demo()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                    **app.launch_kwargs())
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            demo.close()


@pytest.fixture(scope="module")
def page(app_url):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(app_url, wait_until="domcontentloaded")
        pg.errors = errors
        yield pg
        browser.close()


def _images_loaded(locator) -> bool:
    return locator.evaluate_all(
        "els => els.length >= 2 && els.every(e => e.complete && e.naturalWidth > 0)")


def test_restore_shows_both_slider_images(page):
    expect(page.locator("#rl-restore")).to_be_visible(timeout=30_000)
    page.locator("#rl-photo input[type=file]").set_input_files(str(EXAMPLE))
    expect(page.locator("#rl-photo img").first).to_be_visible(timeout=30_000)
    # Model B = the pruned dev model, so both slider sides are restorations.
    page.locator("#rl-model-b input").click()
    page.get_by_role("option", name="dev-pruned").first.click()
    page.locator("#rl-restore").click()
    table = page.locator("#rl-table")
    expect(table).to_contain_text("dev-pruned", timeout=90_000)
    expect(table).to_contain_text("dev-dense")
    expect(table).to_contain_text("input (gaussian_noise)")
    slider_imgs = page.locator("#rl-slider img")
    page.wait_for_function(
        "() => { const im = [...document.querySelectorAll('#rl-slider img')];"
        " return im.length >= 2 && im.every(e => e.complete && e.naturalWidth > 0); }", timeout=60_000)
    assert _images_loaded(slider_imgs)
    srcs = slider_imgs.evaluate_all("els => els.map(e => e.src)")
    assert all(".png" in s for s in srcs[:2]), srcs  # lossless outputs
    expect(page.locator("#rl-files")).to_contain_text(".png", timeout=30_000)
    expect(page.locator("#rl-notes")).to_contain_text("451×300")
    page.screenshot(path=str(SHOTS / "restorelab-restore.png"), full_page=True)


def test_bad_upload_shows_one_line_error(page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image\n" * 50)
    page.get_by_role("tab", name="Restore").click()
    page.locator("#rl-photo input[type=file]").set_input_files(str(bad))
    page.locator("#rl-restore").click()
    expect(page.get_by_text("notes.png: not a readable image").first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(SHOTS / "restorelab-bad-upload.png"))
    assert "Traceback" not in page.content()


def test_lottery_tab_renders_sparsity_plot(page):
    page.get_by_role("tab", name="Lottery tickets").click()
    plot = page.locator("#rl-lottery-sparsity .js-plotly-plot")
    expect(plot).to_be_visible(timeout=60_000)
    expect(page.locator("#rl-lottery-sparsity")).to_contain_text("Fraction of zero weights")
    expect(page.get_by_text("Available when the MIR-L module").first).to_be_visible()
    if page.locator("#rl-lottery-run").count():  # the live experiment exists: one short round
        for elem, value in (("#rl-lottery-nrounds", "1"), ("#rl-lottery-steps", "20")):
            box = page.locator(f"{elem} input[type=number]")
            box.fill(value)
            box.press("Enter")
        page.locator("#rl-lottery-run").click()
        # Round 1 at the default rate 0.4 prunes 40% of the weights.
        expect(page.locator("#rl-lottery-rounds")).to_contain_text("40.0%", timeout=120_000)
        expect(page.locator("#rl-lottery-live .js-plotly-plot")).to_be_visible()
    page.screenshot(path=str(SHOTS / "restorelab-lottery.png"), full_page=True)


@pytest.mark.parametrize("tab,text", [("GRIDS", "Available when the GRIDS module"),
                                      ("OES", "Available when the OES module"),
                                      ("About", "Lottery Ticket Hypothesis")])
def test_other_tabs_show_their_content(page, tab, text):
    page.get_by_role("tab", name=tab).click()
    expect(page.get_by_text(text).first).to_be_visible(timeout=30_000)
    if tab == "About":
        expect(page.locator("#rl-about")).to_contain_text("Optimal Eye Surgeon")
    page.screenshot(path=str(SHOTS / f"restorelab-{tab.lower()}.png"), full_page=True)


def test_no_javascript_errors(page):
    assert page.errors == []
