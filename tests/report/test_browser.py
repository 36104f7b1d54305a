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
    seen["charts"] = page.evaluate(CHARTS)
    seen["sections"] = page.evaluate("Array.from(document.querySelectorAll('section[id], h3[id]'))"
                                     ".map(s => s.id)")  # fmt: skip
    seen["title"] = page.title()
    seen["page_width"] = page.evaluate("document.documentElement.scrollWidth")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / screenshot), full_page=True)
    page.close()
    seen["url"] = url
    return seen


#: Each canvas: its label, what Chart.js drew on it (points per dataset, the x axis's labels), its
#: width on screen, and the share of its pixels that are painted.
CHARTS = """Array.from(document.querySelectorAll("canvas")).map(c => {
  const chart = typeof Chart === "undefined" ? undefined : Chart.getChart(c);
  const pixels = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) painted += pixels[i] > 0;
  return {label: c.getAttribute("aria-label"), kind: c.dataset.kind,
          points: chart ? chart.data.datasets.map(d => d.data.length) : null,
          xticks: chart ? chart.scales.x.ticks.map(t => t.label).filter(l => l !== "") : null,
          width: c.getBoundingClientRect().width, painted: painted / (c.width * c.height)};
})"""


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
    """The plots are drawn in the page by Chart.js from the embedded numbers, under a policy
    that runs no script but the page's own (a violation is a console error)."""
    url, name = study_url
    study = optuna.load_study(study_name=name, storage=url)
    page = write_study_report(study, tmp_path)
    seen = open_page(browser, page, "report-study.png")
    assert seen["errors"] == [] and external(seen) == []
    assert {"best", "trials", "best-config", "plots"} <= set(seen["sections"])
    charts = {c["label"]: c for c in seen["charts"]}
    assert list(charts) == ["Optimization history", "Parameter importance", "Parallel coordinates",
                            "Slice: model.hidden", "Slice: train.optimizer.lr",
                            "Slice: train.regularization.l2", "Learning curves"]  # fmt: skip
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert charts["Optimization history"]["points"] == [len(complete), len(complete)]  # trials, best so far
    assert charts["Parallel coordinates"]["points"] == [len(study.best_trial.params) + 1] * len(complete)
    assert charts["Parameter importance"]["points"] == [3]
    names = ["val/loss", *sorted(study.best_trial.params)]  # one labelled axis per name
    assert charts["Parallel coordinates"]["xticks"] == [name.split(".") for name in names]
    assert charts["Slice: model.hidden"]["xticks"] == ["[64]", "[128]"]  # the choices, in order
    reported = [t for t in study.trials if t.intermediate_values]
    assert charts["Learning curves"]["points"][1:] == [6] * 5  # the top five, six epochs each
    every = sum(len(t.intermediate_values) + 1 for t in reported)  # each trial's epochs and a gap
    assert charts["Learning curves"]["points"][0] == every
    assert all(0.02 < c["painted"] < 0.9 for c in seen["charts"]), seen["charts"]
    assert min(charts["Parallel coordinates"]["width"], charts["Learning curves"]["width"]) > 900
    assert max(charts["Optimization history"]["width"], charts["Slice: model.hidden"]["width"]) < 600


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_two_objective_front_in_chromium(browser, tmp_path):
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=1))
    study.set_metric_names(["val/accuracy", "parameters"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_int("n", 1, 100)), n_trials=12)
    seen = open_page(browser, write_study_report(study, tmp_path), "report-pareto.png")
    assert seen["errors"] == [] and external(seen) == []
    front = next(c for c in seen["charts"] if c["label"] == "Pareto front")
    assert sum(front["points"]) == 12 and front["points"][1] == len(study.best_trials)
    assert front["painted"] > 0.02


def test_a_study_with_many_keys_fits_the_window(browser, tmp_path):
    """Eight long dotted keys: the top-trials table scrolls inside the page, and the parallel
    coordinates name every axis."""
    keys = [f"train.regularization.key_number_{i}" for i in range(8)]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: sum(t.suggest_float(k, 0, 1) for k in keys), n_trials=6)
    seen = open_page(browser, write_study_report(study, tmp_path), "report-many-keys.png")
    assert seen["errors"] == [] and seen["page_width"] <= 1200
    parallel = next(c for c in seen["charts"] if c["label"] == "Parallel coordinates")
    assert parallel["xticks"] == [["value"], *(k.split(".") for k in keys)]  # Optuna's name for it


def test_the_legibility_check_flags_a_shrunken_plot():
    seen = {"sizes": [["Slice plots", 3000, 1000.0, 12.5], ["Loss", 576, 500.0, 10.4],
                      ["Old", 576, 500.0, float("nan")]]}  # fmt: skip
    assert [line.split(":")[0] for line in illegible(seen)] == ["Slice plots", "Old"]
