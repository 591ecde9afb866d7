"""A studio form (AppTest): its size and aspect ratio follow the user's image model, and every
option reopens at what the user last submitted, in this session and the next."""

from __future__ import annotations

from sqlalchemy import select

from viba.store.models import GenerationHistory, User
from viba.studio import preferences

from fake_gemini import png_bytes
from helpers import open_page, wait_until


def widget(at, kind: str, label: str):
    return next(w for w in at.get(kind) if w.label == label)


def test_options_size_and_ratio_are_kept_after_a_submit_and_in_the_next_session(
    db, user, app_environ, fake_gemini
):
    at = open_page("pages/1_Derivation.py", user)
    size, ratio = widget(at, "selectbox", "Size"), widget(at, "selectbox", "Aspect ratio")
    # The default image model (Nano Banana 2.1) makes 1K to 4K (not 512); Derivation: 1K,
    # following the photo's shape.
    assert size.options == ["1K", "2K", "4K"] and size.value == "1K"
    assert ratio.value == "auto" and ratio.options[0] == "Like the image"
    assert "8:1" in ratio.options
    widget(at, "slider", "Creativity").set_value(8)
    widget(at, "selectbox", "Skin tone").set_value("East Asian")
    size.set_value("2K")
    ratio.set_value("1:1")
    at.file_uploader(key="derivation_image").set_value(
        [("me.png", png_bytes("kept-options"), "image/png")]
    )
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception and not at.error
    submitted = {
        "creativity": 8,
        "skin_tone": "East Asian",
        "image_size": "2K",
        "aspect_ratio": "1:1",
    }

    def made():
        with db.session() as s:
            return s.scalar(select(GenerationHistory).where(GenerationHistory.user_id == user.id))

    assert wait_until(made, timeout=10).input_params["options"] == submitted
    # The form, cleared by the submit, opens at what was just submitted ...
    assert widget(at, "slider", "Creativity").value == 8
    assert widget(at, "selectbox", "Skin tone").value == "East Asian"
    assert widget(at, "selectbox", "Size").value == "2K"
    assert widget(at, "selectbox", "Aspect ratio").value == "1:1"
    # ... and so does the next session's (kept on the account).
    assert preferences.load_feature_options(db, user.id) == {"derivation": submitted}
    again = open_page("pages/1_Derivation.py", user)
    assert widget(again, "slider", "Creativity").value == 8
    assert widget(again, "selectbox", "Size").value == "2K"


def test_the_choices_are_those_of_the_chosen_model_and_a_stored_one_it_lacks_is_dropped(
    db, user, app_environ
):
    preferences.set_model_choice(db, user.id, "avatar", "gemini-3-pro-image")
    with db.session() as s:  # chosen with Nano Banana 2 (512 and 1:8), shut down since
        s.get(User, user.id).feature_options = {
            "avatar": {"image_size": "512", "aspect_ratio": "1:8"}
        }
    at = open_page("pages/2_Avatar.py", user)
    size, ratio = widget(at, "selectbox", "Size"), widget(at, "selectbox", "Aspect ratio")
    assert size.options == ["1K", "2K", "4K"] and size.value == "4K"  # Avatar: 4K portraits
    assert "auto" not in ratio.options and "1:8" not in ratio.options
    assert ratio.value == "3:4"  # no input to follow


def test_a_user_with_limits_sees_what_is_left_under_the_form(db, user, admin, app_environ):
    from viba.studio import budget

    budget.set_user_limits(db, admin, user.id, 5.0, 4)
    try:
        at = open_page("pages/3_Try_On.py", user)
        captions = [c.value for c in at.caption]
        assert (
            "This month: $0.00 of your $5.00 budget used or under way · "
            "4 of 4 generations left today (UTC)"
        ) in captions
    finally:
        budget.set_user_limits(db, admin, user.id, None, None)


def test_one_input_with_three_image_models_runs_three_jobs_shown_side_by_side(
    db, user, app_environ, fake_gemini
):
    from viba.studio import features, output

    catalog = features.catalog()
    mine = catalog.default_for("avatar")
    others = [m.id for m in catalog.for_step("avatar") if m.id != mine][:2]
    at = open_page("pages/2_Avatar.py", user)
    pick = at.multiselect(key="avatar_compare")
    # Every other image model, each with what one job of it is expected to cost.
    assert len(pick.options) == len(catalog.for_step("avatar")) - 1
    assert not any(o.startswith(catalog.get(mine).label) for o in pick.options)
    for m in others:
        assert any(o.startswith(catalog.get(m).label) and "expected" in o for o in pick.options)
    assert pick.max_selections == 3
    pick.set_value(others)
    at.file_uploader(key="avatar_photo").set_value([("me.png", png_bytes("compared"), "image/png")])
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    def rows():
        with db.session() as s:
            found = s.scalars(
                select(GenerationHistory).where(GenerationHistory.user_id == user.id)
            ).all()
            return (
                found if len(found) == 3 and all(r.status == "completed" for r in found) else None
            )

    made = wait_until(rows, timeout=30)
    assert len({r.input_params["compare_group"] for r in made}) == 1
    assert len({tuple(r.input_keys) for r in made}) == 1  # the input stored once, for all
    assert sorted(r.input_params["models"]["avatar"] for r in made) == sorted([mine, *others])
    # A model that does not make the size asked (Avatar: 4K) makes its nearest instead.
    for r in made:
        model = catalog.get(r.input_params["models"]["avatar"])
        assert r.input_params["options"]["image_size"] in output.sizes_for(model)
    at.run()
    assert any("the same input, 3 models" in m.value for m in at.markdown)
    labels = [catalog.get(m).label for m in (mine, *others)]
    shown = [m.value for m in at.markdown]
    assert all(any(label in text for text in shown) for label in labels)
    # Each model's result keeps the actions to go on from it (refine, use as input).
    popovers = [b.proto.popover.label for b in at.get("popover")]
    assert popovers.count("Refine") == 3 and popovers.count("Use as input") == 3


def test_a_batch_reads_each_photo_when_its_job_is_queued_and_leaves_out_a_bad_one(
    db, user, app_environ, fake_gemini, monkeypatch
):
    """A batch of many photos holds one of them in memory at a time, not all of them."""
    from viba.web import feature_form

    steps: list[str] = []
    read, queue = feature_form.prepare, feature_form.submit

    def reading(files, ctx):
        steps.extend(f"read {f.name}" for f in files)
        return read(files, ctx)

    def queueing(*args, **kwargs):
        steps.append("queue")
        return queue(*args, **kwargs)

    monkeypatch.setattr(feature_form, "prepare", reading)
    monkeypatch.setattr(feature_form, "submit", queueing)
    at = open_page("pages/1_Derivation.py", user)
    at.file_uploader(key="derivation_image").set_value(
        [
            ("one.png", png_bytes("batch-1"), "image/png"),
            ("bad.png", b"not an image at all", "image/png"),
            ("three.png", png_bytes("batch-3"), "image/png"),
        ]
    )
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception
    assert steps == ["read one.png", "queue", "read bad.png", "read three.png", "queue"]
    assert len(at.error) == 1 and "bad.png" in at.error[0].value  # said, and left out
    with db.session() as s:
        made = s.scalars(select(GenerationHistory).where(GenerationHistory.user_id == user.id))
        assert sorted(r.input_params["input_names"][0] for r in made) == ["one.png", "three.png"]
