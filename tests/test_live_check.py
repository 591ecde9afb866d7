"""The real-service check command, run against the fake Gemini (the same SDK calls it makes
against Google with a real key)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from viba.commands import live_check
from viba.core.config import get_settings
from viba.studio import features

from helpers import ROOT


@pytest.fixture()
def gemini_env(monkeypatch, fake_gemini, tmp_path):
    env = {
        "GEMINI_API_KEY": "live-check-key-9876",
        "GEMINI_BASE_URL": fake_gemini.base_url,
        "GEMINI_API_VERSION": "v1beta",
        "GEMINI_RETRY_ATTEMPTS": "1",
        "VIBA_DATA_DIR": str(tmp_path),
        "VIBA_SECRETS_FILE": str(tmp_path / "none.toml"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def test_the_command_runs_every_feature_on_every_model_at_the_smallest_size(
    gemini_env, fake_gemini
):
    done = subprocess.run(
        [sys.executable, "-m", "viba.commands.live_check"],
        env={**os.environ, **gemini_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    catalog = features.catalog()
    usable = [m for m in catalog.models.values() if m.usable]
    images = [m for m in usable if m.capability == "image"]
    texts = [m for m in usable if m.capability == "text"]
    passes = [line for line in lines if line.startswith("PASS")]
    assert len(passes) == 4 * len(images) + len(texts)
    for model in images:
        for feature in ("derivation", "avatar", "try_on", "swap"):
            assert any(f" {feature} " in p and f" {model.id} " in p for p in passes)
    # The smallest size each model makes, asked of Gemini and seen in what came back.
    for model in ("gemini-nano-banana-2.1", "gemini-3.1-flash-lite-image", "gemini-3-pro-image"):
        assert any(model in p and "896x1200 jpeg at 1K 3:4" in p for p in passes)
    sizes = {
        (r.model, r.body["generationConfig"]["imageConfig"]["imageSize"])
        for r in fake_gemini.generate_calls()
        if "IMAGE" in r.modalities
    }
    assert sizes == {
        ("gemini-nano-banana-2.1", "1K"),  # its smallest: the API refuses 512
        ("gemini-3.1-flash-lite-image", "1K"),
        ("gemini-3-pro-image", "1K"),
    }
    assert "$" in passes[0] and lines[-1].startswith(f"{len(passes)} passed, 0 failed")


def test_a_model_the_key_cannot_call_fails_its_lines_and_the_exit_code(
    gemini_env, fake_gemini, capsys
):
    fake_gemini.models = [m for m in fake_gemini.models if m != "gemini-3-pro-image"]
    code = live_check.main(["--models", "gemini-3-pro-image,gemini-nano-banana-2.1"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    fails = [line for line in out if line.startswith("FAIL")]
    assert len(fails) == 4 and all("gemini-3-pro-image" in f for f in fails)
    assert all("not available to this API key" in f for f in fails)
    assert len([line for line in out if line.startswith("PASS")]) == 4
    assert out[-1].startswith("4 passed, 4 failed")


def test_filters_and_a_wrong_name_get_one_sentence(gemini_env, fake_gemini, capsys):
    assert live_check.main(["--models", "gemini-nano-banana-2.1", "--features", "swap"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 1 and " swap " in out
    assert len(fake_gemini.generate_calls()) == 1
    assert live_check.main(["--models", "gemini-9-ultra"]) == 2
    assert capsys.readouterr().err.strip() == "Not in the model catalog: gemini-9-ultra."


def test_models_the_key_lists_that_the_catalog_lacks_are_reported(gemini_env, fake_gemini, capsys):
    """Google ships a model: the key's list has it before the catalog does (and drops one)."""
    fake_gemini.models = [m for m in fake_gemini.models if m != "gemini-3-pro-image"]
    fake_gemini.models.append("gemini-nano-banana-3")
    fake_gemini.listed_details["gemini-nano-banana-3"] = {
        "displayName": "Nano Banana 3\n<b>new</b>",
        "description": "Image generation\tand editing.\x1b[31m",
        "inputTokenLimit": 65536,
        "outputTokenLimit": 32768,
    }
    assert live_check.main(["--models", "gemini-nano-banana-2.1", "--features", "swap"]) == 0
    out = capsys.readouterr().out.splitlines()
    new = [line for line in out if line.startswith("NEW")]
    assert new == [
        "NEW    gemini-nano-banana-3: “Nano Banana 3 <b>new</b>” (Image generation and "
        "editing.[31m); input 65536 / output 32768 tokens; listed by this key, not in the catalog"
    ]
    assert [line for line in out if line.startswith("GONE")] == [
        "GONE   gemini-3-pro-image: in the catalog, not listed by this key"
    ]
    assert out[-1].startswith("1 passed, 0 failed")  # what the key lists does not fail it
