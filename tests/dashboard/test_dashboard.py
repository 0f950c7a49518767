"""`nas dashboard` in a real browser (headless Chromium through Playwright): the run list, a run
page, a live update while a real search runs, stored strings shown as text, and nothing written."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from evonas.dashboard import make_server
from evonas.metrics import Metrics
from evonas.storage import GenerationRecord, IndividualRecord, SQLStorage

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>'


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("Chromium is needed for the dashboard tests: apt-get install chromium")
    return found


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        yield b
        b.close()


class Dashboard:
    def __init__(self, db: str) -> None:
        self.server = make_server(db, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _hostile_db(path: Path) -> str:
    with SQLStorage(str(path)) as storage:
        run = storage.create_run("hostile", {"dataset": {"name": "digits"}, "selection": "nsga2"}, 0)
        genome = '{"genes":[{"kind":"conv","channels":8},{"kind":"dense","latent":4}]}'
        metrics = Metrics(acc=0.61, nmi=0.5, recon_loss=0.02, params=100)
        ok = IndividualRecord(hash="a" * 16, genome=genome, parents=(), operator="init", status="ok", seed=1,
                              metrics=metrics, seconds=1.0)  # fmt: skip
        bad = dataclasses.replace(ok, hash="b" * 16, status="failed", metrics=Metrics(), error=HOSTILE)
        storage.record_generation(run.id, GenerationRecord(0, ("a" * 16,), (ok, bad), 1.0))
        storage.update_run(run.id, "finished")
    return str(path)


def test_run_list_and_run_page_show_stored_strings_as_text_and_write_nothing(tmp_path, browser):
    db = _hostile_db(tmp_path / "h.db")
    before = hashlib.sha256(Path(db).read_bytes()).hexdigest()
    dash = Dashboard(db)
    try:
        page = browser.new_page()
        page.goto(dash.url + "/")
        page.wait_for_selector("tr[data-run]")
        row = page.text_content("tr[data-run]")
        assert "hostile" in row and "finished" in row and "digits" in row and "0.6100" in row
        page.click("text=hostile")
        page.wait_for_selector("text=Run hostile")
        assert page.is_visible("svg[aria-label='Pareto front']")  # an nsga2 run
        assert page.text_content(".layers").startswith("conv 8 3x3 relu")
        failure = page.text_content("td.error")
        assert failure == HOSTILE  # shown as text, character for character
        assert page.evaluate("window.__xss") is None and page.query_selector("td.error b") is None
        assert page.query_selector("img") is None
        # read-only: a write is refused, and the database file is byte-identical afterwards
        request = urllib.request.Request(dash.url + "/api/runs", method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=5)
        assert err.value.code == 405
    finally:
        dash.close()
    assert hashlib.sha256(Path(db).read_bytes()).hexdigest() == before


def test_a_running_search_updates_the_page_by_itself(tmp_path, browser):
    db = tmp_path / "live.db"
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    search = subprocess.Popen(
        [sys.executable, "-m", "evonas.cli", "run", "--quiet", "--db", str(db), "--name", "live",
         "--population", "4", "--generations", "3", "--epochs", "8", "--lr", "0.01", "--cpus", "2"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the dashboard opens an existing database only
            runs = [sys.executable, "-m", "evonas.cli", "runs", "--db", str(db)]
            if db.exists() and "live" in subprocess.run(runs, capture_output=True, text=True, env=env).stdout:
                break
            time.sleep(0.5)
        dash = Dashboard(str(db))
        try:
            page = browser.new_page()
            page.goto(dash.url + "/run/1")
            page.wait_for_selector("#run-status")
            assert page.text_content("#run-status") == "running"
            page.wait_for_selector("#live")
            first = page.text_content("#live")
            # a journaled evaluation or a stored generation changes the live line within seconds
            page.wait_for_function(
                "f => { const l = document.getElementById('live'); return !l || l.textContent !== f; }",
                arg=first, timeout=120_000,
            )  # fmt: skip
            page.wait_for_function(
                "() => document.getElementById('run-status').textContent === 'finished'", timeout=300_000
            )
            assert page.query_selector("#live") is None
            assert page.query_selector_all("tr[data-hash]")  # the population, each genome drawn
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        finally:
            dash.close()
        assert search.wait(timeout=60) == 0
    finally:
        if search.poll() is None:
            search.kill()
