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


def distance_to(stroke, x, y) -> float:
    """A pixel's distance to a polyline (the stroke's points, in pixels)."""
    best = float("inf")
    points = stroke if len(stroke) > 1 else stroke * 2
    for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
        dx, dy = bx - ax, by - ay
        t = 0.0 if dx == dy == 0 else ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)
        t = min(1.0, max(0.0, t))
        best = min(best, ((x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2) ** 0.5)
    return best


def changed_pixels(a: Image.Image, b: Image.Image) -> list[tuple[int, int]]:
    diff = ImageChops.difference(a, b).convert("L")
    return [(x, y) for y in range(a.height) for x in range(a.width) if diff.getpixel((x, y))]


def test_a_painted_region_changes_only_the_painted_pixels():
    original = noise()
    # Two strokes: an L in the upper left, a dot lower right (shares of the width / height).
    brush = region.Brush.parse(
        [
            {"r": 0.03, "p": [[0.1, 0.1], [0.1, 0.5], [0.4, 0.5]]},
            {"r": 0.05, "p": [[0.8, 0.8]]},
        ]
    )
    cut = region.plan((400, 300), brush)
    assert cut.strokes[0] == (12, ((40, 30), (40, 150), (160, 150)))
    assert cut.box == (28, 18, 340, 260)  # both strokes' bounds with their radius
    red = io.BytesIO()
    Image.new("RGB", (300, 300), (255, 0, 0)).save(red, "PNG")
    before = decoded(original)
    out = decoded(region.pasted(original, red.getvalue(), cut))
    moved = changed_pixels(before, out)
    assert moved  # the answer went in
    strokes = [(r, list(points)) for r, points in cut.strokes]
    for x, y in moved:  # and nowhere but under the brush
        assert min(distance_to(p, x, y) - r for r, p in strokes) <= 1, (x, y)
    assert out.getpixel((40, 90)) == (255, 0, 0)  # on the L's upright, well inside
    assert out.getpixel((320, 240)) == (255, 0, 0)  # the dot's middle
    assert out.getpixel((200, 60)) == before.getpixel((200, 60))  # in the bounds, not painted
    edge = out.getpixel((40 + 12, 90))  # the stroke's rim: the original, faded in
    assert edge != (255, 0, 0)


@pytest.mark.parametrize(
    "raw, sentence",
    [
        ("strokes", "Paint over the part of the image to change."),
        ([], "Paint over the part of the image to change."),
        ([{"r": 0.03}], "Paint over the part of the image to change."),
        ([{"r": 0.03, "p": []}], "Paint over the part of the image to change."),
        ([{"r": 0.03, "p": [[0.1, float("nan")]]}], "Paint over the part of the image to change."),
        ([{"r": 0.03, "p": [[0.1, 1.5]]}], "Paint over the part of the image to change."),
        ([{"r": 0.03, "p": [[True, 0.5]]}], "Paint over the part of the image to change."),
        ([{"r": 0.03, "p": [["0.1", 0.5]]}], "Paint over the part of the image to change."),
        ([{"r": 0.03, "p": [[0.1, 0.5, 0.2]]}], "Paint over the part of the image to change."),
        ([{"r": 9, "p": [[0.1, 0.5]]}], "Paint over the part of the image to change."),
        ([{"r": 0.01, "p": [[0.5, 0.5]]}] * 201, "Too many strokes: clear the brush and"),
        ([{"r": 0.01, "p": [[0.5, 0.5]] * 5001}], "Too many strokes: clear the brush and"),
    ],
)
def test_strokes_that_are_not_a_painting_get_a_sentence(raw, sentence):
    with pytest.raises(region.RegionError, match=f"^{sentence}"):
        region.Brush.parse(raw)


def test_a_speck_of_paint_is_too_small():
    with pytest.raises(
        region.RegionError,
        match="^The painted part is too small: paint at least 16 pixels each way.$",
    ):
        region.plan((400, 300), region.Brush.parse([{"r": 0.005, "p": [[0.5, 0.5]]}]))


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


def an_output(runner, db, store, member, gemini_config):
    """A finished avatar of the member's: (its id, its output's key, the output decoded)."""
    first = submit(runner, db, member, "avatar", 1, gemini_config, image_size="1K")
    runner.wait(first)
    key = row(db, first).output_keys[0]
    return first, key, decoded(store.load(key))


def test_a_region_edit_job_sends_the_crop_and_keeps_the_rest_of_the_output(
    runner, db, store, member, gemini_config, fake_gemini
):
    first, key, before = an_output(runner, db, store, member, gemini_config)
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


def test_a_painted_region_edit_job_keeps_every_pixel_off_the_brush(
    runner, db, store, member, gemini_config, fake_gemini
):
    first, key, before = an_output(runner, db, store, member, gemini_config)
    brush = region.Brush.parse([{"r": 0.04, "p": [[0.2, 0.3], [0.7, 0.35], [0.6, 0.8]]}])
    job = runner.region_edit(member.id, first, key, brush, "gold leaves", gemini_config)
    runner.wait(job)
    r = row(db, job)
    assert r.status == "completed", r.error_message
    ((radius, points),) = r.input_params["region"]["strokes"]
    assert len(points) == 3 and radius == round(0.04 * before.width)
    after = decoded(store.load(r.output_keys[0]))
    assert after.size == before.size
    # What may differ: the painted pixels only (the mask the job drew, over the whole image).
    cut = region.Plan(
        (0, 0, *before.size), (0, 0, *before.size), ((radius, tuple(map(tuple, points))),)
    )
    painted = region.painted(cut)
    diff = ImageChops.difference(after, before).convert("L")
    assert ImageChops.multiply(diff, ImageChops.invert(painted)).getbbox() is None
    assert diff.getbbox() is not None


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
        (member, (0.1, 0.1, 0.5, 0.5), "   ", "Say what to change there"),
        (member, (0.5, 0.1, 0.2, 0.5), "sky", "Draw the box to change inside the image."),
        (user, (0.1, 0.1, 0.5, 0.5), "sky", "That generation does not exist"),
    ):
        with pytest.raises(JobError, match=f"^{sentence}"):
            runner.region_edit(who.id, first, key, box, words, gemini_config)
    assert fake_gemini.generate_calls() == []


def test_edit_a_region_from_history(db, admin, app_environ, app_store, fake_gemini):
    import uuid

    from sqlalchemy import select

    from viba.accounts import auth
    from viba.store.models import GenerationHistory

    from helpers import PASSWORD, add, open_page, wait_until

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
    assert "strokes" not in r.input_params["region"]
    before, after = decoded(app_store.load(key)), decoded(app_store.load(r.output_keys[0]))
    assert outside_box_equal(after, before, (30, 80, 180, 320))


def test_the_brush_with_nothing_painted_says_so(db, admin, app_environ, app_store):
    import uuid

    from viba.accounts import auth

    from helpers import PASSWORD, add, open_page

    owner = auth.register(db, f"paint-{uuid.uuid4().hex[:8]}@example.com", "Paint", PASSWORD)
    key = app_store.save(png_bytes(f"paint {uuid.uuid4()}", size=(300, 400)), "image/png").key
    gid = add(db, owner, type="avatar", outputs=[key])
    at = open_page("pages/5_History.py", owner, {"id": str(gid)})
    prefix = f"region_{gid}"
    at.button_group(key=f"{prefix}_mode").set_value("brush").run()
    assert not at.exception
    assert at.select_slider(key=f"{prefix}_size").value == "medium"
    with pytest.raises(KeyError):
        at.slider(key=f"{prefix}_x")  # the box's sliders are gone
    at.text_area(key=f"{prefix}_words").input("a red hat")
    at.button(key=f"{prefix}_go").click().run()
    assert not at.exception
    assert [t.value for t in at.toast][-1] == "Paint over the part of the image to change."
    assert at.text_area(key=f"{prefix}_words").value == "a red hat"  # nothing lost
