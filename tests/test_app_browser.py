"""End-to-end in a real headless Chromium: upload, restore, both slider images, every tab (the
Lottery tab on tiny exported tickets with their pruning records, from conftest's ``lottery_tickets``).

Uses Playwright's Python package driving Debian's ``/usr/bin/chromium`` (no browser download);
skips cleanly when either is missing. Screenshots go to ``$RESTORELAB_SCREENSHOT_DIR``
(default: the system temp dir) for a human to look at.
"""

from __future__ import annotations

import os
import re
import shutil
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
OES_MASK = "oes-lean-d05"
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

from apphelpers import app_environment, launched_app  # noqa: E402


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, lottery_tickets):
    from devmodels import make_test_models

    weights = tmp_path_factory.mktemp("weights")
    make_test_models(weights)
    for f in lottery_tickets.iterdir():  # tiny exported tickets with their pruning records (conftest)
        shutil.copy(f, weights / f.name)
    for f in (REPO / "weights").glob(f"{OES_MASK}.*"):  # the OES tab's default mask, so its replays apply
        shutil.copy(f, weights / f.name)
    with app_environment(weights), launched_app() as (_, url):
        yield url


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
    # an uploaded photo is restored as it is: the simulation switches to None; pick noise again
    degradation = page.locator("#rl-degradation")
    expect(degradation.get_by_label("None: my photo is already degraded")).to_be_checked(timeout=10_000)
    degradation.get_by_label("Gaussian noise").check()
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
    # do no harm is on by default and says what it found (noise was simulated)
    expect(page.locator("#rl-guard input")).to_be_checked()
    expect(page.locator("#rl-notes")).to_contain_text("do no harm: restored")
    page.screenshot(path=str(SHOTS / "restorelab-restore.png"), full_page=True)


def test_classical_baseline_is_one_click_away(page):
    expect(page.locator("#rl-restore")).to_be_visible(timeout=30_000)
    page.locator("#rl-photo input[type=file]").set_input_files(str(EXAMPLE))
    expect(page.locator("#rl-photo img").first).to_be_visible(timeout=30_000)
    page.locator("#rl-b-nlm").click()
    expect(page.locator("#rl-model-b input")).to_have_value(re.compile("^nlm"), timeout=10_000)
    page.locator("#rl-restore").click()
    table = page.locator("#rl-table")
    expect(table).to_contain_text("classical", timeout=90_000)
    expect(page.locator("#rl-notes")).to_contain_text("estimated noise level")


def test_bad_upload_shows_one_line_error(page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image\n" * 50)
    page.get_by_role("tab", name="Restore").click()
    page.locator("#rl-photo input[type=file]").set_input_files(str(bad))
    page.locator("#rl-restore").click()
    expect(page.get_by_text("notes.png: not a readable image").first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(SHOTS / "restorelab-bad-upload.png"))
    assert "Traceback" not in page.content()


def _plot(page, elem_id):
    return page.locator(f"#{elem_id} .js-plotly-plot")


def test_lottery_tab_renders_sparsity_plot(page):
    page.get_by_role("tab", name="Lottery tickets").click()
    plot = page.locator("#rl-lottery-sparsity .js-plotly-plot")
    expect(plot).to_be_visible(timeout=60_000)
    expect(page.locator("#rl-lottery-sparsity")).to_contain_text("Fraction of zero weights")
    # the live experiment: one short round
    for elem, value in (("#rl-lottery-nrounds", "1"), ("#rl-lottery-steps", "20")):
        box = page.locator(f"{elem} input[type=number]")
        box.fill(value)
        box.press("Enter")
    page.locator("#rl-lottery-run").click()
    # Round 1 at the default rate 0.4 prunes 40% of the weights.
    expect(page.locator("#rl-lottery-rounds")).to_contain_text("40.0%", timeout=120_000)
    expect(page.locator("#rl-lottery-live .js-plotly-plot")).to_be_visible()
    page.screenshot(path=str(SHOTS / "restorelab-lottery.png"), full_page=True)


def test_lottery_tab_shows_the_pruning_rounds(page):
    page.get_by_role("tab", name="Lottery tickets").click()
    expect(page.locator("#rl-lottery-tickets")).to_contain_text("5 shipped pruned model(s)", timeout=60_000)
    # Round slider (at the last round on opening): global vs layer-wise side by side.
    layers = page.locator("#rl-lottery-layers")
    expect(_plot(page, "rl-lottery-layers")).to_be_visible(timeout=30_000)
    expect(layers).to_contain_text("after round 2")
    expect(layers).to_contain_text("mirl-g (IMP global)")
    expect(layers).to_contain_text("mirl-lw (IMP layer-wise)")
    expect(page.locator("#rl-lottery-round-info")).to_contain_text("Round 2")
    box = page.locator("#rl-lottery-round-slider input[type=number]")
    box.fill("1")
    box.press("Tab")  # leaving the box releases the slider
    expect(page.locator("#rl-lottery-round-info")).to_contain_text("Round 1", timeout=30_000)
    expect(layers).to_contain_text("after round 1")
    # PSNR vs non-zero parameters: IMP lines and the baselines' markers, per task.
    curves = page.locator("#rl-lottery-curves")
    expect(_plot(page, "rl-lottery-curves")).to_be_visible()
    expect(curves).to_contain_text("(mean over tasks)")
    for name in ("mirl-g (IMP global)", "pir-osm-1 (one-shot magnitude)", "pir-osr-2 (one-shot random)",
                 "reinit-g (random re-init)", "dense (round 0)"):
        expect(curves).to_contain_text(name)
    page.locator("#rl-lottery-task input").click()
    page.get_by_role("option", name="denoise_25").first.click()
    expect(curves).to_contain_text("(denoise_25)", timeout=30_000)
    page.locator("#rl-lottery-curves").screenshot(path=str(SHOTS / "restorelab-lottery-curves.png"))
    page.locator("#rl-lottery-layers").screenshot(path=str(SHOTS / "restorelab-lottery-rounds.png"))


def _grids_content(page):
    expect(page.locator("#rl-grids-status")).to_contain_text("Artefacts", timeout=30_000)
    if page.locator("#rl-grids-heatmap .js-plotly-plot").count():
        expect(page.locator("#rl-grids-heatmap")).to_contain_text("Degradation similarity")
    else:  # no similarity.json in this weights folder: the tab says how to compute it
        expect(page.locator("#rl-grids-heatmap-note")).to_contain_text("has not been computed")
    expect(page.locator("#rl-grids-select")).to_be_visible()


def _oes_content(page):
    expect(page.locator("#rl-oes-run")).to_be_visible(timeout=30_000)
    expect(page.locator("#rl-oes-photo")).to_be_visible()
    expect(page.locator("#rl-oes-status")).to_be_visible()


def _about_content(page):
    expect(page.get_by_text("Lottery Ticket Hypothesis").first).to_be_visible(timeout=30_000)
    expect(page.locator("#rl-about")).to_contain_text("Optimal Eye Surgeon")


@pytest.mark.skipif(not (REPO / "examples" / "oes-replay" / f"{EXAMPLE.stem}.json").is_file()
                    or not (REPO / "weights" / f"{OES_MASK}.safetensors").is_file(),
                    reason="no shipped OES replay of the example photo or no shipped mask")
def test_oes_default_click_replays_the_full_run(page):
    """A visitor who picks an example photo and presses Run sees the whole 3,000-step story at once."""
    page.get_by_role("tab", name="OES").click()
    expect(page.locator("#rl-oes-run")).to_be_visible(timeout=30_000)
    page.locator("#rl-oes-photo input[type=file]").set_input_files(str(EXAMPLE))
    expect(page.locator("#rl-oes-photo img").first).to_be_visible(timeout=30_000)
    page.locator("#rl-oes-run").click()
    status = page.locator("#rl-oes-status")
    expect(status).to_contain_text("replay of a precomputed run", timeout=60_000)
    expect(status).to_contain_text("done", timeout=60_000)
    expect(status).to_contain_text("Step 3000 / 3000")
    expect(page.locator("#rl-oes-curves .js-plotly-plot")).to_be_visible()
    page.screenshot(path=str(SHOTS / "restorelab-oes-replay.png"), full_page=True)


@pytest.mark.parametrize("tab,check", [("GRIDS", _grids_content), ("OES", _oes_content), ("About", _about_content)])
def test_other_tabs_show_their_content(page, tab, check):
    page.get_by_role("tab", name=tab).click()
    check(page)
    page.screenshot(path=str(SHOTS / f"restorelab-{tab.lower()}.png"), full_page=True)


def test_no_javascript_errors(page):
    assert page.errors == []
