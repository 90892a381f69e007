"""The stepper's page in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``), driven by Selenium.

Saved steppers are opened from disk; the tests press → through a whole forward and backward
pass and check the page at chosen steps (the highlighted box, the numbers shown against the
engine's to the digits shown), that the console holds no error and that no request left the
page. The time each step takes to draw is measured and reported, never asserted
(``benchmarks/bench_viz.py --browser`` measures a 50-layer MLP step).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np
import pytest
from test_stepper import close_to_digits, neuron

import tinygrad_mlp as tg
from tinygrad_mlp import nn, viz

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,900")


@pytest.fixture(scope="module")
def browser():
    options = Options()
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="stepper-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


class Page:
    """A saved stepper open in the browser, and what the page shows."""

    def __init__(self, driver, path: Path) -> None:
        self.driver = driver
        driver.get("about:blank")  # what the page before did is logged before this
        driver.get_log("browser")  # start both logs afresh
        driver.get_log("performance")
        driver.get(path.resolve().as_uri())
        self.body = driver.find_element(By.TAG_NAME, "body")
        self.times: list[float] = []

    def state(self) -> dict:
        return self.driver.execute_script(
            "const d = document.body.dataset, c = document.querySelector('.box.current');"
            "return {step: +d.step, phase: d.phase, node: d.node, ms: +d.renderMs,"
            " current: c ? c.dataset.node : null};")

    def press(self, key: str = Keys.ARROW_RIGHT) -> dict:
        self.body.send_keys(key)
        state = self.state()
        self.times.append(state["ms"])
        return state

    def shown(self, field: str) -> list[str]:
        """The numbers under the side panel's ``[data-field=field]``, in order."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll(`#detail [data-field='${arguments[0]}'] .num`)]"
            ".map(e => e.textContent)", field)

    def errors(self) -> list[dict]:
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def requests(self) -> list[str]:
        """Every URL asked for since the page was opened, from the DevTools protocol's network
        events (the browser's own pages, ``chrome://`` ones such as the first tab's, aside)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return [u for u in urls if not u.startswith(("chrome://", "chrome-untrusted://"))]


def test_a_whole_pass_through_the_neuron_shows_the_engines_numbers(browser, tmp_path):
    o, leaves = neuron()
    w1, w2, b = leaves["w1"], leaves["w2"], leaves["b"]
    stepper = viz.stepper(o, title="one neuron")
    path = stepper.save(tmp_path / "neuron.html")
    # the engine's gradients, from a real backward on the same graph
    o.backward(retain_graph=True)
    nodes = viz.scene.make_scene([o], None, True).nodes
    truth = {n.ident: n.grad for n in nodes if n.grad is not None}
    values = {n.ident: n.value for n in nodes}

    page = Page(browser, path)
    start = page.state()
    assert start["phase"] == "start" and start["current"] is None
    for expected in stepper.steps[1:]:
        state = page.press()
        assert state["phase"] == expected["phase"] and state["node"] == (expected["node"] or "")
        assert state["current"] == expected["node"]  # the highlighted box is that node
        ident = expected["node"]
        if expected["phase"] == "forward":
            (shown,) = page.shown("value")
            assert close_to_digits(shown, float(values[ident])), (ident, shown)
        elif expected["phase"] == "backward":
            (shown,) = page.shown("grad")
            assert close_to_digits(shown, float(truth[ident])), (ident, shown)
    assert page.state()["phase"] == "done"
    done = page.shown("grad")
    assert [float(v) for v in done] == pytest.approx(
        [float(t.grad.item()) for t in (w1, w2, b)], abs=5e-4)
    assert page.press()["step"] == len(stepper.steps) - 1  # → at the end stays there
    assert page.errors() == []
    assert page.requests() == [path.resolve().as_uri()]  # the page itself, nothing else
    print(f"\nneuron: ms per step {statistics.median(page.times):.1f} median, "
          f"{max(page.times):.1f} max")


def test_an_mlp_step_its_sums_sends_keys_slider_and_modules(browser, tmp_path):
    tg.manual_seed(1)
    model = nn.MLP([2, 3, 2])
    X, y = tg.randn(4, 2, seed=3), np.array([0, 1, 1, 0])
    loss = nn.CrossEntropyLoss()(model(X), y)
    stepper = viz.stepper(loss, params=model)
    path = stepper.save(tmp_path / "mlp.html")
    loss.backward(retain_graph=True)
    page = Page(browser, path)

    steps = stepper.steps
    last_linear = next(i for i, s in enumerate(steps)
                       if s["phase"] == "backward" and s["node"].endswith("_linear"))
    for _ in range(last_linear):
        page.press()
    assert page.state()["node"] == steps[last_linear]["node"]
    # what the last linear sends to W: gᵀ @ x, the engine's 2.weight gradient
    sent = [float(v) for v in page.shown("send")[-(3 * 2 + 2):-2]]  # W's 6 numbers, then b's 2
    assert np.allclose(sent, model[2].weight.grad.numpy().ravel(), atol=5e-4)

    page.press(Keys.END)
    assert page.state()["phase"] == "done"
    page.press(Keys.HOME)
    assert page.state()["step"] == 0
    browser.execute_script(
        "const s = document.getElementById('slider'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('input'));", last_linear)
    assert page.state()["node"] == steps[last_linear]["node"]

    # a module collapses to one box and expands again by a click on its title
    frame = browser.find_element(By.CSS_SELECTOR, ".frame[data-key='2'] text")
    frame.click()
    hidden = browser.execute_script(
        "return [...document.querySelectorAll('.box.hidden')].map(e => e.dataset.node)")
    assert sorted(hidden) == sorted(n["id"] for n in stepper.data["nodes"]
                                    if n["cluster"] == "2")
    assert browser.find_element(By.CSS_SELECTOR, ".fold[data-key='2']").get_attribute(
        "class") == "fold current"  # the current node is inside: the fold is highlighted
    browser.find_element(By.CSS_SELECTOR, ".fold[data-key='2']").click()
    assert browser.execute_script("return document.querySelectorAll('.box.hidden').length") == 0
    assert page.errors() == []
    assert page.requests() == [path.resolve().as_uri()]


def test_the_page_lays_the_graph_out_itself_without_dot(browser, tmp_path):
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    x.name = "x"
    loss = (x.tanh() * x).sum()
    stepper = viz.stepper(loss, layout="page")
    assert stepper.data["layout"] is None
    page = Page(browser, stepper.save(tmp_path / "own.html"))
    boxes = browser.execute_script(
        "return [...document.querySelectorAll('.box')].map(e => e.getAttribute('transform'))")
    assert len(boxes) == len(stepper.data["nodes"]) and len(set(boxes)) == len(boxes)
    for _ in stepper.steps[1:]:
        page.press()
    assert page.state()["phase"] == "done"
    assert page.errors() == []


def test_the_first_nan_is_marked_and_a_freed_graph_explained(browser, tmp_path):
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"):
        loss = (x.log() * 0.0).sum()
        live = viz.stepper(loss)
        loss.backward()
        freed = viz.stepper(loss)
    page = Page(browser, live.save(tmp_path / "nan.html"))
    marked = "return [...document.querySelectorAll('.box.first')].map(e => e.dataset.node)"
    assert browser.execute_script(marked) == []  # nothing computed yet
    page.press()  # log: -inf appears
    assert browser.execute_script(marked) == [page.state()["node"]]
    assert page.state()["node"].endswith("_log")
    assert "holds -inf" in browser.find_element(By.CSS_SELECTOR, "#detail").text
    assert page.errors() == []

    page = Page(browser, freed.save(tmp_path / "freed.html"))
    note = browser.find_element(By.CSS_SELECTOR, "#detail .note").text
    assert "freed" in note and "retain_graph=True" in note
    for _ in freed.steps[1:]:
        page.press()
    assert page.state()["phase"] == "done"
    assert page.errors() == []


@pytest.mark.slow
def test_a_fifty_layer_mlp_steps_through(browser, tmp_path):
    tg.manual_seed(0)
    model = nn.MLP([4] + [16] * 50 + [1])
    loss = nn.MSELoss()(model(tg.randn(8, 4, seed=1)), tg.randn(8, 1, seed=2))
    stepper = viz.stepper(loss, params=model)
    page = Page(browser, stepper.save(tmp_path / "mlp50.html"))
    for _ in stepper.steps[1:]:
        page.press()
    assert page.state()["phase"] == "done"
    assert page.errors() == []
    print(f"\n50-layer MLP: {len(page.times)} steps, ms per step "
          f"{statistics.median(page.times):.1f} median, {max(page.times):.1f} max")
