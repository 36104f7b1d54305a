"""The HTML reports in a real headless Chromium (Debian's, driven by Playwright).

No console errors, no request beyond the file itself, every section and image there. A
full-page screenshot of each goes to ``test-artifacts/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pytest

from tuneforge.report import write_study_report

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)",
                allow_module_level=True)  # fmt: skip

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def open_page(browser, page_file: Path, screenshot: str) -> dict:
    """Load the page; return what it said, what it requested and what it shows."""
    url = page_file.resolve().as_uri()
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    seen = {"errors": [], "requests": []}
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto(url, wait_until="load")
    seen["images"] = page.evaluate(
        "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    seen["sizes"] = page.evaluate(
        "Array.from(document.images).map(i => [i.alt, i.naturalWidth, i.getBoundingClientRect().width,"
        " parseFloat(i.dataset.fontPx)])")  # fmt: skip
    seen["sections"] = page.evaluate("Array.from(document.querySelectorAll('section[id], h3[id]'))"
                                     ".map(s => s.id)")  # fmt: skip
    seen["title"] = page.title()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    page.close()
    seen["url"] = url
    return seen


#: the smallest text we accept on screen, in CSS pixels (browsers' minimum font default is 6-9)
MIN_FONT_PX = 9.0


def illegible(seen: dict) -> list[str]:
    """Images whose smallest text, as the browser draws it at the report's width, is too small."""
    bad = []
    for alt, natural, shown, font_px in seen["sizes"]:
        if not font_px == font_px:  # NaN: the PNG recorded no font size
            bad.append(f"{alt}: no font size recorded")
        elif font_px * shown / natural < MIN_FONT_PX:
            bad.append(f"{alt}: {natural} px wide shown at {shown:.0f} px: text {font_px * shown / natural:.1f} px")
    return bad


def external(seen: dict) -> list[str]:
    return [u for u in seen["requests"] if u != seen["url"] and not u.startswith("data:")]


def test_run_report_in_chromium(browser, run_dir):
    seen = open_page(browser, run_dir / "report.html", "report-run.png")
    assert seen["errors"] == [] and external(seen) == []
    assert {"scores", "warnings", "diagnosis", "gradients", "lr-find", "plots", "recipe"} <= set(seen["sections"])
    pngs = sorted((run_dir / "plots").glob("*.png"))
    assert len(seen["images"]) == len(pngs) == 5
    assert all(complete and width > 300 for complete, width, _ in seen["images"])
    assert "<img src=x onerror=alert(1)> & digits" in seen["title"]  # markup shown as text
    assert (ARTIFACTS / "report-run.png").stat().st_size > 10_000
    assert illegible(seen) == []


def test_study_report_in_chromium(browser, study_url, tmp_path):
    url, name = study_url
    page = write_study_report(optuna.load_study(study_name=name, storage=url), tmp_path)
    seen = open_page(browser, page, "report-study.png")
    assert seen["errors"] == [] and external(seen) == []
    assert {"best", "trials", "best-config", "plots"} <= set(seen["sections"])
    titles = {alt for _, _, alt in seen["images"]}
    assert titles == {"Optimization history", "Parameter importance", "Parallel coordinates",
                      "Slice plots", "Learning curves"}  # fmt: skip
    assert all(complete and width > 300 for complete, width, _ in seen["images"])
    assert illegible(seen) == []
    wide = {alt: shown for alt, _, shown, _ in seen["sizes"] if alt.startswith(("Slice", "Parallel"))}
    assert min(wide.values()) > 900  # the wide plots span the report, not half of it


def test_the_legibility_check_flags_a_shrunken_plot():
    seen = {"sizes": [["Slice plots", 3000, 1000.0, 12.5], ["Loss", 576, 500.0, 10.4],
                      ["Old", 576, 500.0, float("nan")]]}  # fmt: skip
    assert [line.split(":")[0] for line in illegible(seen)] == ["Slice plots", "Old"]
