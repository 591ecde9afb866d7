"""`python -m viba.worker` as deploy shape (b) runs it: real processes on the real PostgreSQL
queue, the real SDK against the fake Gemini. A worker killed mid-job (kill -9) leaves its job
to another, which runs only the steps that are missing; SIGTERM stops a worker cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
from test_jobs import models, row, submit

from viba.jobs.runner import JobRunner

import fake_gemini as fg
from helpers import ROOT, queue_name, wait_until


@pytest.fixture()
def worker_env(backend, app_env):
    if backend != "postgresql":
        pytest.skip("the queue's workers need PostgreSQL (SQLite runs jobs in the app)")
    return {
        **os.environ,
        **app_env,
        "VIBA_QUEUE": queue_name(),
        "VIBA_JOB_HEARTBEAT_SECONDS": "0.3",
        "VIBA_SHUTDOWN_GRACE_SECONDS": "5",
        "VIBA_LOG_FORMAT": "text",
        "VIBA_LOG_LEVEL": "info",
    }


class Worker:
    """One `python -m viba.worker` process; its log lines are read as they come."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "viba.worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_until(lambda: any("worker ready" in line for line in self.lines) or self.ended, 60)
        assert not self.ended, "".join(self.lines)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def ended(self) -> bool:
        return self.proc.poll() is not None

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no cleanup at all
        self.proc.wait(10)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def test_a_worker_killed_mid_job_leaves_it_to_another_that_runs_only_the_missing_steps(
    worker_env, db, store, member, gemini_config, fake_gemini
):
    gate = threading.Event()
    image_model = models()["derivation_image"]
    fake_gemini.script(*[fg.gated(gate) for _ in range(3)], model=image_model)
    web = JobRunner(db, store, work=False, queue=worker_env["VIBA_QUEUE"])
    first = Worker(worker_env)
    second = None
    try:
        job_id = submit(web, db, member, "derivation", 1, gemini_config)
        # The description, one variant kept, three variants waiting on Gemini: kill it now.
        wait_until(lambda: len(row(db, job_id).output_keys) == 1, 30)
        wait_until(lambda: len(fake_gemini.generate_calls(image_model)) == 4)
        assert row(db, job_id).status == "processing"
        first.kill()
        second = Worker(worker_env)
        wait_until(lambda: row(db, job_id).status == "completed", 60)
        assert second.stop() == 0  # SIGTERM: a clean stop
    finally:
        gate.set()
        web.shutdown()
        for w in (first, second):
            if w is not None and not w.ended:
                w.kill()
    done = row(db, job_id)
    assert done.details["resumed"] == 1 and len(done.output_keys) == 4
    assert len(fake_gemini.generate_calls(models()["derivation_text"])) == 1  # not asked again
    assert len(fake_gemini.generate_calls(image_model)) == 4 + 3  # the 3 missing, once more
    assert not done.details.get("failures")
    assert any("queued again" in line for line in second.lines), "".join(second.lines)


def test_a_worker_on_sqlite_says_why_it_cannot_run(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'v.db'}",
        "VIBA_DATA_DIR": str(tmp_path),
        "VIBA_SECRETS_FILE": str(tmp_path / "none.toml"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "viba.worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith("with SQLite the app runs its generations itself.")
    assert "Traceback" not in done.stderr
