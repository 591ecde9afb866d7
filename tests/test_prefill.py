"""Edit and run again, Use as input: a form filled in from stored images (AppTest)."""

from __future__ import annotations

from viba import services
from viba.core.config import get_settings
from viba.engine.images import prepare_image
from viba.jobs.runner import JobRunner
from viba.store.image_store import ImageStore, make_backend
from viba.studio import features, prompt_store

from fake_gemini import png_bytes
from helpers import generation_rows as rows
from helpers import open_page, open_popover, queue_name, wait_until


def made(db, user, feature, options, *names, gemini_config):
    settings = get_settings()
    store = ImageStore(make_backend(settings.storage, db, settings.data_dir))
    runner = JobRunner(db, store, heartbeat_s=0.2, queue=queue_name())
    try:
        images = [prepare_image(png_bytes(n), f"{n}.png") for n in names]
        in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
        job_id = runner.submit(
            user.id, feature, images, options, features.catalog().defaults, in_use, gemini_config
        )
        runner.wait(job_id)
        return job_id
    finally:
        runner.shutdown()


def button(at, label):
    return next(b for b in at.button if b.label == label)


def test_edit_and_run_again_reopens_the_form_with_its_inputs_and_options(
    db, user, app_environ, gemini_config, fake_gemini
):
    made(db, user, "swap", {"image_size": "1K", "aspect_ratio": "4:3"}, "me", "beach",
         gemini_config=gemini_config)  # fmt: skip
    first = rows(db, user, "swap")[-1]
    at = open_page("pages/4_Swap.py", user)
    button(at, "Edit and run again").click().run()
    assert not at.exception
    assert "Filled in from an earlier generation" in " ".join(c.value for c in at.caption)
    assert not at.get("file_uploader")  # both slots come from the store
    assert next(s for s in at.selectbox if s.label == "Size").value == "1K"
    assert next(s for s in at.selectbox if s.label == "Aspect ratio").value == "4:3"
    next(s for s in at.selectbox if s.label == "Size").set_value("2K")  # change something
    button(at, "Generate").click().run()
    assert not at.exception and not at.error
    wait_until(lambda: len(rows(db, user, "swap")) == 2)
    second = rows(db, user, "swap")[-1]
    assert second.input_keys == first.input_keys  # the same stored images, not uploaded again
    assert second.input_params["options"] == {"image_size": "2K", "aspect_ratio": "4:3"}
    assert second.input_params["input_names"] == ["me.png", "beach.png"]
    assert at.get("file_uploader")  # used: the next form is empty again


def test_an_output_used_as_input_fills_that_slot_and_can_be_removed(
    db, user, app_environ, gemini_config, fake_gemini
):
    made(db, user, "avatar", {"image_size": "1K"}, "face", gemini_config=gemini_config)
    avatar = rows(db, user, "avatar")[-1]
    at = open_popover(open_page("pages/2_Avatar.py", user), f"use_pop_{avatar.id}_0")
    pick = next(s for s in at.selectbox if s.label == "In")
    pick.set_value(("try_on", "garment")).run()
    button(at, "Open").click().run()
    assert not at.exception and [t.value for t in at.title] == ["Try-On"]
    at.switch_page("pages/3_Try_On.py").run()  # AppTest stays on Try-On from now (a browser does)
    uploaders = at.get("file_uploader")
    assert len(uploaders) == 1  # the person's; the garment is the avatar's output
    uploaders[0].set_value([("person.png", png_bytes("person"), "image/png")])
    button(at, "Generate").click().run()
    assert not at.exception and not at.error, at.error
    wait_until(lambda: rows(db, user, "try_on"))
    job = rows(db, user, "try_on")[-1]
    assert job.input_keys[1] == avatar.output_keys[0]
    # Remove takes a filled-in slot back to its uploader.
    at = open_popover(open_page("pages/2_Avatar.py", user), f"use_pop_{avatar.id}_0")
    next(s for s in at.selectbox if s.label == "In").set_value(("swap", "scene")).run()
    button(at, "Open").click().run()
    at.switch_page("pages/4_Swap.py").run()
    assert len(at.get("file_uploader")) == 1
    button(at, "Remove").click().run()
    assert len(at.get("file_uploader")) == 2


def test_outputs_picked_on_cards_are_compared_side_by_side_on_history(
    db, user, app_environ, gemini_config, fake_gemini
):
    for size in ("1K", "2K"):
        made(db, user, "avatar", {"image_size": size}, f"cmp-{size}", gemini_config=gemini_config)
    at = open_page("pages/2_Avatar.py", user)
    assert len([c for c in at.checkbox if c.label == "Compare"]) == 2
    for i in range(2):  # found again each time: a tick redraws its box (keyed by its state)
        [c for c in at.checkbox if c.label == "Compare"][i].check().run()
    at.switch_page("pages/5_History.py").run()
    button(at, "Compare the 2 picked").click().run()
    assert not at.exception and [s.value for s in at.subheader] == ["Side by side"]
    texts = [t.value for t in at.text]
    assert any("· 896×1200" in x for x in texts) and any("· 1792×2400" in x for x in texts)
    assert sum("1K · 3:4" in x or "2K · 3:4" in x for x in texts) == 2
    assert len(at.get("download_button")) == 3  # each, and the zip
    from viba.studio import generations, history  # the zip is made on click: checked directly

    picked = [
        (generations.find(db, user.id, r.id), r.output_keys[0]) for r in rows(db, user, "avatar")
    ]
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(history.picked_zip(_store(), picked))) as zf:
        assert len(zf.namelist()) == 2
    button(at, "Clear the picks").click().run()
    assert not [b for b in at.button if b.label.startswith("Compare the")]


def _store():
    settings = get_settings()
    return ImageStore(
        make_backend(settings.storage, services.database(settings), settings.data_dir)
    )
