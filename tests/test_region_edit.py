"""Region edits: only the crop of the box (with its margin) goes to the image model, and its
answer comes back inside the box only: every pixel outside it is the original's."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops
from test_jobs import row, submit

from viba.engine import region
from viba.jobs.runner import JobError

from fake_gemini import png_bytes


def noise(size=(400, 300)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(out, "PNG")
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


def outside_box_equal(a: Image.Image, b: Image.Image, box) -> bool:
    diff = ImageChops.difference(a, b)
    cover = Image.new("RGB", a.size, (0, 0, 0))
    diff.paste(cover.crop(box), box[:2])  # what differs inside the box does not count
    return diff.getbbox() is None


def test_the_answer_lands_inside_the_box_and_nothing_outside_changes():
    original = noise()
    cut = region.plan((400, 300), (0.25, 0.2, 0.6, 0.7))
    assert cut.box == (100, 60, 240, 210) and cut.crop == (65, 22, 275, 248)
    sent = decoded(region.cropped(original, cut))
    assert sent.size == (210, 226)  # the box and a quarter of its sides around it
    assert ImageChops.difference(sent, decoded(original).crop(cut.crop)).getbbox() is None
    red = io.BytesIO()
    Image.new("RGB", (512, 512), (255, 0, 0)).save(red, "PNG")  # any size comes back
    out = decoded(region.pasted(original, red.getvalue(), cut))
    assert out.size == (400, 300)
    assert outside_box_equal(out, decoded(original), cut.box)
    assert out.getpixel((170, 135)) == (255, 0, 0)  # the middle of the box: the answer
    edge = out.getpixel((100, 135))  # the box's border: the original, faded in
    assert edge != (255, 0, 0)


@pytest.mark.parametrize(
    "box, sentence",
    [
        ((0.5, 0.5, 0.4, 0.9), "Draw the box to change inside the image."),
        ((-0.1, 0.0, 0.5, 0.5), "Draw the box to change inside the image."),
        ((0.0, 0.0, 1.2, 0.5), "Draw the box to change inside the image."),
        (("a", 0, 1, 1), "Draw the box to change inside the image."),
        ((0.5, 0.5, 0.52, 0.9), "The box is too small: make it at least 16 pixels a side."),
    ],
)
def test_a_box_that_is_not_one_gets_a_sentence(box, sentence):
    with pytest.raises(region.RegionError, match=f"^{sentence}$"):
        region.plan((400, 300), box)


def test_a_region_edit_job_sends_the_crop_and_keeps_the_rest_of_the_output(
    runner, db, store, member, gemini_config, fake_gemini
):
    first = submit(runner, db, member, "avatar", 1, gemini_config, image_size="1K")
    runner.wait(first)
    key = row(db, first).output_keys[0]
    before = decoded(store.load(key))
    fake_gemini.requests.clear()
    job = runner.region_edit(
        member.id, first, key, (0.1, 0.5, 0.6, 0.9), "  a stormy   sky ", gemini_config
    )
    runner.wait(job)
    r = row(db, job)
    assert r.status == "completed", r.error_message
    assert r.input_params["region"]["instruction"] == "a stormy sky"
    assert r.input_params["region"]["output"] == key and r.parent_id is None
    (call,) = fake_gemini.generate_calls()
    ((mime, sent),) = call.images
    crop = r.input_params["region"]["crop"]
    assert decoded(sent).size == (crop[2] - crop[0], crop[3] - crop[1])  # only the crop
    assert "a stormy sky" in call.text
    after = decoded(store.load(r.output_keys[0]))
    assert after.size == before.size
    box = tuple(r.input_params["region"]["box"])
    assert outside_box_equal(after, before, box)
    assert ImageChops.difference(after.crop(box), before.crop(box)).getbbox() is not None


def test_a_region_edit_is_refused_with_a_sentence_before_any_call(
    runner, db, member, gemini_config, fake_gemini
):
    import uuid

    from viba.accounts import auth

    from helpers import PASSWORD

    user = auth.register(db, f"other-{uuid.uuid4().hex[:8]}@example.com", "Other", PASSWORD)
    first = submit(runner, db, member, "avatar", 1, gemini_config, image_size="1K")
    runner.wait(first)
    key = row(db, first).output_keys[0]
    fake_gemini.requests.clear()
    for who, box, words, sentence in (
        (member, (0.1, 0.1, 0.5, 0.5), "   ", "Say what to change in the box"),
        (member, (0.5, 0.1, 0.2, 0.5), "sky", "Draw the box to change inside the image."),
        (user, (0.1, 0.1, 0.5, 0.5), "sky", "That generation does not exist"),
    ):
        with pytest.raises(JobError, match=f"^{sentence}"):
            runner.region_edit(who.id, first, key, box, words, gemini_config)
    assert fake_gemini.generate_calls() == []


def test_edit_a_region_from_history(db, admin, app_environ, fake_gemini):
    import uuid

    from sqlalchemy import select

    from viba.accounts import auth
    from viba.core.config import get_settings
    from viba.store.image_store import ImageStore, make_backend
    from viba.store.models import GenerationHistory

    from helpers import PASSWORD, add, open_page, wait_until

    settings = get_settings()
    app_store = ImageStore(make_backend(settings.storage, db, settings.data_dir))
    owner = auth.register(db, f"reg-{uuid.uuid4().hex[:8]}@example.com", "Reg", PASSWORD)
    key = app_store.save(png_bytes(f"region {uuid.uuid4()}", size=(300, 400)), "image/png").key
    gid = add(db, owner, type="avatar", outputs=[key])
    at = open_page("pages/5_History.py", owner, {"id": str(gid)})
    prefix = f"region_{gid}"
    assert len(at.main.get("image")) >= 2  # the output and the box's preview
    at.slider(key=f"{prefix}_x").set_value((10, 60))
    at.slider(key=f"{prefix}_y").set_value((20, 80))
    at.text_area(key=f"{prefix}_words").input("a red hat")
    at.button(key=f"{prefix}_go").click().run()
    assert not at.exception and [t.value for t in at.toast][-1].startswith("Queued")

    def edited():
        with db.session() as s:
            rows = s.scalars(
                select(GenerationHistory).where(
                    GenerationHistory.user_id == owner.id, GenerationHistory.id != gid
                )
            ).all()
            done = [r for r in rows if r.status == "completed"]
            return done[0] if done else None

    r = wait_until(edited, timeout=20)
    assert r.input_params["region"]["box"] == [30, 80, 180, 320]
    before, after = decoded(app_store.load(key)), decoded(app_store.load(r.output_keys[0]))
    assert outside_box_equal(after, before, (30, 80, 180, 320))
