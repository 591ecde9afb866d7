"""What the benchmarks share: a server's memory and CPU, phone-like photos, waiting for a
condition, and whether a server answers its health check."""

from __future__ import annotations

import os
import secrets
import statistics
import threading
import time
import urllib.request
from pathlib import Path


def app_env(url: str, data: Path, gemini_url: str, **extra: str) -> dict[str, str]:
    """The environment a benchmark's `streamlit run` gets: its database and data folder, the
    fake Gemini, a fresh cookie key, the cheapest bcrypt cost; `extra` adds or overrides."""
    return {
        "DATABASE_URL": url,
        "VIBA_DATA_DIR": str(data),
        "VIBA_STORAGE": f"local:{data}/img",
        "GEMINI_API_KEY": "bench-key-0123456789",
        "GEMINI_BASE_URL": gemini_url,
        "GEMINI_API_VERSION": "v1beta",
        "VIBA_COOKIE_KEY": secrets.token_urlsafe(48),
        "VIBA_BCRYPT_ROUNDS": "4",
        "VIBA_SECRETS_FILE": str(data / "none.toml"),
        **extra,
    }


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def browser_cpu() -> dict[int, float]:
    """CPU seconds so far of each Chromium (and Playwright driver) process of this machine:
    the load generator's own share of the CPU during a burst."""
    seen = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                name = comm.read().strip()
            if "chrom" in name or name == "node":
                seen[int(entry)] = cpu_s(int(entry))
        except OSError:  # gone meanwhile
            continue
    return seen


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sampler:
    """A process's RSS every 50 ms; peak() since the last reset()."""

    def __init__(self, pid: int) -> None:
        self.pid, self._peak, self._stop = pid, 0.0, threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self._peak = max(self._peak, rss_mb(self.pid))
            except OSError:
                return

    def reset(self) -> None:
        self._peak = rss_mb(self.pid)

    def peak(self) -> float:
        return max(self._peak, rss_mb(self.pid))

    def stop(self) -> None:
        self._stop.set()


def photo_jpeg(seed: int, size: tuple[int, int] = (4000, 3000), quality: int = 92) -> bytes:
    """A phone-like photo: a tinted gradient with grain (12 MP at quality 92 is about 4.5 MB)."""
    from fake_gemini import grainy_jpeg  # tests/, on the benchmarks' path

    return grainy_jpeg(seed, size, quality)


def finished_derivations(db, store, user, count: int) -> None:
    """The user's latest `count` Derivations, finished, 4 outputs each (what "Your latest"
    shows someone who uses the app), their images in `store`."""
    from fake_gemini import png_bytes  # tests/, on the benchmarks' path
    from helpers import add

    for n in range(count):
        tag = f"{user.email} {n}"
        photo = store.save(png_bytes(f"in {tag}", (600, 800)), "image/png").key
        outs = [
            store.save(png_bytes(f"out {tag} {i}", (600, 800)), "image/png").key for i in range(4)
        ]
        add(db, user, type="derivation", inputs=[photo], outputs=outs, names=(f"p{n}.jpg",))


def click_together(locators, lead: float) -> float:
    """Each locator's element (or the link or button around it) clicked at one moment, `lead`
    seconds from now, by a timer set in its page; returns when the moment is 0.1 s away, with
    the moment (epoch seconds). Each page notes when it clicked in `window.vibaClicked`.
    Playwright's clicks, one page after another, took 20 starved browsers of a 2-core machine
    16-27 s, so "at once" was not at once."""
    at = time.time() + lead
    for locator in locators:
        locator.evaluate(
            "(el, at) => setTimeout(() => { window.vibaClicked = Date.now();"
            " el.closest('a, button').click(); }, at - Date.now())",
            at * 1000,
        )
    if time.time() > at - 0.2:
        raise RuntimeError("the pages could not all be armed before the moment")
    time.sleep(at - 0.1 - time.time())
    return at


def wait_for(check, timeout: float = 300.0, step: float = 0.02) -> float:
    """Poll check() until it is true; how long that took (s)."""
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"gave up waiting for {check}")
        time.sleep(step)
    return time.perf_counter() - started


def healthy(url: str) -> bool:
    """The Streamlit server at url answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def print_spread(runs: list[dict[str, float]], width: int, decimals: int) -> None:
    """Each figure of several runs as one line: its min, median and max."""
    for key in runs[0]:
        values = [r[key] for r in runs]
        print(
            f"{key:<{width}} min {min(values):{decimals + 6}.{decimals}f}  "
            f"median {statistics.median(values):{decimals + 6}.{decimals}f}  "
            f"max {max(values):{decimals + 6}.{decimals}f}"
        )
