"""How long the pictures take: drawing a graph, and making and saving a stepper page.

Pictures are off the training step, so this is about waiting for one: the DOT text of a
10,001-box scalar graph and of a 50-layer MLP step, and the stepper of that MLP step (the
engine's backward pass it asks for, ``dot``'s layout, and the HTML file written), which the
issue wants under 2 s. With ``--browser`` it also opens the saved stepper in headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium) and steps through
every step, reporting the time each step takes to draw (the page's own ``renderMs``, the issue
wants each under 50 ms). Each figure is the median of ``--repeat`` runs.

    python3 benchmarks/bench_viz.py
    python3 benchmarks/bench_viz.py --browser
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tinygrad_mlp as tg
from tinygrad_mlp import nn, viz


def median_seconds(work: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scalar_sum(terms: int) -> tg.Tensor:
    total = tg.tensor(0.0)
    for i in range(terms):
        total = total + tg.tensor(float(i), requires_grad=True) * 0.5
    return total


def mlp_step(layers: int = 50, width: int = 16, batch: int = 8) -> tuple[nn.MLP, tg.Tensor]:
    tg.manual_seed(0)
    model = nn.MLP([4] + [width] * layers + [1])
    x, y = tg.randn(batch, 4, seed=1), tg.randn(batch, 1, seed=2)
    return model, nn.MSELoss()(model(x), y)


def browser_steps(path: Path) -> list[float]:
    """Open ``path`` in headless Chromium, press → through every step; each step's renderMs."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.keys import Keys

    options = Options()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,900"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp()}")
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(path.resolve().as_uri())
        body = driver.find_element("tag name", "body")
        total = int(driver.execute_script("return document.getElementById('slider').max"))
        times = []
        for _ in range(total):
            body.send_keys(Keys.ARROW_RIGHT)
            times.append(float(driver.execute_script("return document.body.dataset.renderMs")))
        return times
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--browser", action="store_true", help="also step through in Chromium")
    args = parser.parse_args(argv)
    out = Path(tempfile.mkdtemp())

    total = scalar_sum(2500)
    rows = [("draw_graph, 10,001 boxes, max_nodes=None",
             median_seconds(lambda: viz.draw_graph(total, max_nodes=None), args.repeat))]
    model, loss = mlp_step()
    rows.append(("draw_graph, 50-layer MLP step",
                 median_seconds(lambda: viz.draw_graph(loss, params=model, max_nodes=None),
                                args.repeat)))
    page_path = out / "mlp50.html"

    def make_and_save() -> None:
        viz.stepper(loss, params=model).save(page_path)

    rows.append(("stepper of a 50-layer MLP step, made and saved",
                 median_seconds(make_and_save, args.repeat)))
    print(f"python {sys.version.split()[0]}, numpy, graphviz dot: "
          f"{'yes' if viz.stepper(loss).data['layout'] else 'no'}")
    for name, seconds in rows:
        print(f"{name:<52} {seconds:8.3f} s")
    print(f"{'stepper file size':<52} {page_path.stat().st_size / 1e6:8.2f} MB")
    if args.browser:
        times = browser_steps(page_path)
        print(f"{'browser: steps':<52} {len(times):8d}")
        print(f"{'browser: ms per step, median':<52} {statistics.median(times):8.2f}")
        print(f"{'browser: ms per step, max':<52} {max(times):8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
