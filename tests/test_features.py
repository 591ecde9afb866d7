"""The feature registry: every consumer reads it, and a new feature is one registry entry, one
prompt and one page file, run end to end here against the fake Gemini (real SDK)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from viba.engine import pipelines
from viba.engine.prompts import PromptTemplate
from viba.store.models import GenerationHistory, ModelUsage
from viba.studio import features, prompt_store
from viba.studio.features import Feature, Slot, Step
from viba.web import browser_session, sidebar

from fake_gemini import png_bytes
from helpers import ROOT, logged_in_box, wait_until

SKETCH_PROMPT = PromptTemplate(
    step="sketch",
    title="Sketch: a pencil drawing of the photo",
    system="You are an illustrator.",
    template="Redraw the {photo_count} photo(s) as one pencil sketch, {aspect_ratio}.",
)
SKETCH_PAGE = """from viba.web.feature_form import feature_page

feature_page(__file__)
"""


@pytest.fixture()
def sketch():
    feature = Feature(
        key="sketch",
        page="pages/9_Sketch.py",
        icon=":material/draw:",
        intro_key="sketch",
        steps=(Step("sketch", "image", SKETCH_PROMPT),),
        slots=(Slot("photo", "reference_photos", 1, 2),),
        outputs=1,
        pipeline=pipelines.single_image,
    )
    features.register(feature)
    yield feature
    features.unregister("sketch")


@pytest.fixture()
def app_copy(tmp_path: Path, sketch) -> Path:
    """The app's entry script and pages, plus the new feature's one page file."""
    shutil.copy(ROOT / "Home.py", tmp_path / "Home.py")
    shutil.copytree(ROOT / "pages", tmp_path / "pages")
    (tmp_path / "pages" / "9_Sketch.py").write_text(SKETCH_PAGE)
    return tmp_path


def test_every_consumer_reads_the_registry():
    keys = features.keys()
    assert keys == ("derivation", "avatar", "try_on", "swap")
    assert (
        set(features.step_capabilities())
        == set(features.steps())
        == set(features.builtin_prompts())
    )
    assert set(features.catalog().defaults) == set(features.steps())
    pages = [item.path for item in sidebar.studio_pages()]
    assert pages[1:5] == [f.page for f in features.all_features()]
    assert features.get("derivation").input_range == (1, 1)
    assert features.get("avatar").input_range == (1, 3)
    assert features.get("swap").check_options({"creativity": 3}) == {}
    with pytest.raises(features.InputError, match="1 to 10"):
        features.get("derivation").check_options({"creativity": 11})
    with pytest.raises(features.InputError, match="Unknown feature"):
        features.get("video")


def test_a_step_id_cannot_be_registered_twice(sketch):
    twin = Feature(
        key="sketch2",
        page="pages/x.py",
        icon="",
        intro_key="",
        steps=(Step("sketch", "image", SKETCH_PROMPT),),
        slots=(Slot("photo", "p"),),
        outputs=1,
        pipeline=pipelines.single_image,
    )
    with pytest.raises(ValueError, match="already registered"):
        features.register(twin)


def test_a_new_feature_is_one_entry_one_prompt_one_page(
    db, user, app_environ, fake_gemini, app_copy, sketch
):
    model = features.catalog().defaults["sketch"]  # the image default serves the new step
    at = AppTest.from_file(str(app_copy / "Home.py"), default_timeout=30)
    at.session_state[browser_session.SESSION_KEY] = logged_in_box(user)
    at.switch_page("pages/9_Sketch.py").run()
    assert not at.exception, at.exception
    assert "sketch" in [link.label for link in at.sidebar.get("page_link")]
    at.file_uploader(key="sketch_photo").set_value(
        [
            ("me.png", png_bytes("sketch-1"), "image/png"),
            ("me-too.png", png_bytes("sketch-2"), "image/png"),
        ]
    )
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception and not at.error

    def done():
        with db.session() as s:
            row = s.scalar(
                select(GenerationHistory).where(
                    GenerationHistory.user_id == user.id, GenerationHistory.type == "sketch"
                )
            )
            return row if row is not None and row.status not in ("pending", "processing") else None

    row = wait_until(done, timeout=30)
    assert row.status == "completed", row.error_message
    assert len(row.input_keys) == 2 and len(row.output_keys) == 1
    assert row.input_params["models"] == {"sketch": model}
    assert row.input_params["prompt"] == "Redraw the 2 photo(s) as one pencil sketch, 3:4."
    calls = fake_gemini.generate_calls(model)
    assert len(calls) == 1 and calls[0].text == row.input_params["prompt"]
    assert calls[0].system == SKETCH_PROMPT.system and len(calls[0].images) == 2
    with db.session() as s:
        usage = s.scalars(select(ModelUsage).where(ModelUsage.generation_id == row.id)).all()
    assert [(u.feature, u.step, u.model, u.images) for u in usage] == [
        ("sketch", "sketch", model, 1)
    ]
    # Its step has a prompt admins can edit and a model users can pick; History filters by it.
    assert prompt_store.active_prompts(db)["sketch"].version == prompt_store.BUILTIN
    at.switch_page("pages/6_System_Prompts.py").run()
    assert at.selectbox(key="model_sketch").value == model
    at.switch_page("pages/5_History.py").run()
    assert "sketch" in at.multiselect(key="hf_types").options
