"""Broken input and broken neighbours: each gets one clear sentence, nothing is stored, no
trace reaches a page."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from viba.accounts import auth
from viba.core.text import BadSearchText, md_escape
from viba.engine import gemini
from viba.engine.images import prepare_image
from viba.jobs.runner import JobError, JobRunner
from viba.store import audit
from viba.store.image_store import ImageStore, LocalBackend, StorageError
from viba.store.models import GenerationHistory
from viba.studio import admin_reports, admin_users, features, history, prompt_store

import fake_gemini as fg
from fake_gemini import png_bytes
from helpers import open_page, photo, queue_name


def test_an_image_folder_that_cannot_be_written_is_one_sentence_and_no_row(
    db, tmp_path, user, gemini_config
):
    root = tmp_path / "images"
    root.mkdir()
    (root / "img").write_text("a file where the image folder should be")
    store = ImageStore(LocalBackend(root))
    with pytest.raises(StorageError, match="cannot store images"):
        store.save(png_bytes("blocked"), "image/png")
    runner = JobRunner(db, store, heartbeat_s=10, queue=queue_name())
    try:
        with db.session() as s:
            before = s.scalar(select(func.count()).select_from(GenerationHistory))
        with pytest.raises(JobError, match="cannot store images"):
            runner.submit(
                user.id,
                "avatar",
                [prepare_image(png_bytes("x"), "x.png")],
                {},
                features.catalog().defaults,
                prompt_store.prompts_in_use(prompt_store.active_prompts(db)),
                gemini_config,
            )
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(GenerationHistory)) == before
    finally:
        runner.shutdown()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"candidates": [{"content": {"parts": [',
        b"<html>oops</html>",
    ],
)
def test_an_answer_that_is_not_the_apis_json_is_reported_as_such(fake_gemini, gemini_config, raw):
    fake_gemini.script(fg.broken(raw))
    with pytest.raises(gemini.BadAnswer, match="could not be read") as refused:
        gemini.generate_image(gemini_config, "gemini-nano-banana-2.1", [photo()], "Draw.")
    assert refused.value.kind == "bad_answer"


def test_control_characters_in_filters_are_one_sentence():
    for make in (
        lambda: history.HistoryFilter(text="a\x00b"),
        lambda: history.HistoryFilter(model="m\x00"),
        lambda: admin_users.UserFilter(text="\x00"),
        lambda: admin_reports.GenerationFilter(user="x\x00"),
        lambda: audit.AuditFilter(email="\x07"),
    ):
        with pytest.raises(BadSearchText, match="control characters"):
            make()


def test_a_nul_in_the_history_search_box_shows_a_sentence(db, user, app_environ):
    at = open_page("pages/5_History.py", user)
    at.text_input(key="hf_text").input("find\x00me").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        md_escape("Search text cannot contain control characters; type it again.")
    ]


HOSTILE = "[relogin](http://host.invalid/phish)![x](http://host.invalid/x.gif)"


def test_a_hostile_name_and_file_name_are_never_markdown(db, admin, app_environ):
    import re

    who = auth.register(db, f"h-{uuid.uuid4().hex[:8]}@example.com", HOSTILE, "hostile-pass-1")
    with db.session() as s:
        row = GenerationHistory(
            user_id=who.id,
            type="avatar",
            status="failed",
            input_params={"input_names": [HOSTILE + ".png"], "models": {}, "options": {}},
            input_keys=[],
            output_keys=[],
            details={"failures": []},
            error_message=f"Gemini answered with text instead of an image: “{HOSTILE}”",
        )
        s.add(row)
        s.flush()
        gid = row.id
    unescaped_link = re.compile(r"(?<!\\)\]\(")
    pages = [
        ("Home.py", who, None),
        ("pages/2_Avatar.py", who, None),
        ("pages/5_History.py", who, None),
        ("pages/5_History.py", who, {"id": str(gid)}),
        ("pages/7_Profile.py", who, None),
        ("pages/8_Admin.py", admin, {"gen": str(gid)}),
    ]
    for page, account, query in pages:
        at = open_page(None if page == "Home.py" else page, account, query)
        assert not at.exception, page
        shown = [
            str(el.value)
            for kind in (
                "title",
                "markdown",
                "caption",
                "error",
                "warning",
                "info",
                "success",
                "toast",
            )
            for el in at.get(kind)
        ]
        assert not [text for text in shown if unescaped_link.search(text)], (page, shown)
        plain = [str(el.value) for el in at.get("text")]
        assert any("relogin" in text for text in plain + shown), page  # it is shown, as text


def test_an_answer_that_drips_in_is_cut_off_at_the_call_deadline(fake_gemini, gemini_config):
    """The SDK's timeout is per read: a byte every 0.2 s never trips a 5 s timeout, and the
    whole answer would take minutes. One deadline covers the call, retries included."""
    import dataclasses

    config = dataclasses.replace(gemini_config, deadline_s=1.0)
    fake_gemini.script(fg.dripping(0.2))
    with pytest.raises(gemini.GenerationTimeout, match="did not finish within 1 seconds"):
        gemini.generate_image(config, "gemini-nano-banana-2.1", [photo()], "Draw.")
    from helpers import wait_until

    wait_until(lambda: fake_gemini.drips_aborted == 1)  # the connection was closed
    assert fake_gemini.drips_finished == 0
