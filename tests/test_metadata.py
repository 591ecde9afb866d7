"""Settings inside downloaded images (PNG iTXt, JPEG XMP) and back from a dropped file."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from PIL import Image

from viba.jobs import runner
from viba.studio import features, metadata, preferences

from fake_gemini import jpeg_bytes, png_bytes
from helpers import open_page, queue_name


def view(**params):
    return SimpleNamespace(
        id=uuid.uuid4(),
        type="swap",
        created_at=datetime(2026, 11, 26, tzinfo=UTC),
        input_params={
            "models": {"swap": "gemini-3-pro-image"},
            "options": {"image_size": "2K", "aspect_ratio": "16:9"},
            "prompt": "Place the person <b>naturally</b> & keep “it”.",
            **params,
        },
    )


@pytest.mark.parametrize("make", [png_bytes, lambda s: jpeg_bytes(s, (64, 48))])
def test_settings_go_in_and_come_back_and_the_pixels_stay(make):
    original = make("meta")
    v = view()
    tagged = metadata.embed(original, metadata.describe(v, 2))
    meta = metadata.read(tagged)
    assert meta["generation_id"] == str(v.id) and meta["output"] == 2
    assert meta["feature"] == "swap" and meta["options"]["aspect_ratio"] == "16:9"
    assert meta["prompt"] == v.input_params["prompt"]  # markup in it survives, as text
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(tagged)) as b:
        assert a.format == b.format and a.tobytes() == b.tobytes()
    assert metadata.read(original) is None


@pytest.mark.parametrize("make", [png_bytes, lambda s: jpeg_bytes(s, (64, 48))])
def test_for_a_zip_the_settings_come_as_pieces_around_the_images_own_bytes(make):
    original = make("pieces")
    meta = metadata.describe(view(), 1)
    pieces = metadata.embed_pieces(original, meta)
    assert b"".join(pieces) == metadata.embed(original, meta)
    # The image's bytes are views of what was read, not copies: a 4K image is megabytes.
    views = [p for p in pieces if isinstance(p, memoryview)]
    assert len(views) == 2 and all(v.obj is original for v in views)
    assert sum(len(v) for v in views) == len(original)
    assert metadata.embed_pieces(b"GIF89a not ours", meta) == [b"GIF89a not ours"]


def test_a_hostile_or_broken_file_is_just_not_ours():
    tagged = metadata.embed(png_bytes("x"), {"generation_id": "not-a-uuid", "feature": "swap"})
    assert metadata.read(tagged)["generation_id"] is None
    assert metadata.read(tagged[:40]) is None  # cut off
    assert metadata.read(b"\xff\xd8\xff\xe1\xff\xff" + b"x" * 10) is None
    assert metadata.read(b"GIF89a" + b"\x00" * 50) is None
    # A file of thousands of tiny chunks is not read to its end.
    tagged = metadata.embed(png_bytes("z"), {"feature": "swap"})
    junk = metadata._chunk(b"tEXt", b"k\x00v") * (metadata.MAX_CHUNKS + 10)
    padded = tagged[:8] + tagged[8:33] + junk + tagged[33:]  # after IHDR
    assert metadata.read(tagged) is not None and metadata.read(padded) is None
    huge = metadata.embed(png_bytes("y"), {"prompt": "p" * 200_000, "feature": "swap"})
    assert len(metadata.read(huge)["prompt"]) < 3000  # cut to fit


def test_dropping_an_image_opens_its_generation_or_recalls_its_settings(
    db, user, app_environ, gemini_config
):
    from viba.core.config import get_settings
    from viba.engine.images import prepare_image
    from viba.store.image_store import ImageStore, make_backend
    from viba.studio import history, prompt_store

    settings = get_settings()
    store = ImageStore(make_backend(settings.storage, db, settings.data_dir))
    runner_here = runner.JobRunner(db, store, heartbeat_s=0.2, queue=queue_name())
    try:
        in_use = prompt_store.prompts_in_use(prompt_store.active_prompts(db))
        photo = prepare_image(png_bytes("drop me"), "me.png")
        job_id = runner_here.submit(
            user.id,
            "avatar",
            [photo],
            {"image_size": "1K"},
            features.catalog().defaults,
            in_use,
            gemini_config,
        )
        runner_here.wait(job_id)
    finally:
        runner_here.shutdown()
    made = history.get_generation(db, user.id, job_id)
    downloaded = history.output_download(store, made, made.output_keys[0], 1)
    at = open_page("pages/5_History.py", user)
    at.file_uploader(key="hv_file").set_value([("mine.jpg", downloaded, "image/jpeg")])
    at.button(key="FormSubmitter:hv_drop-Open").click().run()
    assert not at.exception and at.query_params["id"] == str(job_id)
    # Someone else's image: not found here, so its settings go into the Swap form.
    theirs = metadata.embed(png_bytes("theirs"), metadata.describe(view(), 1))
    at = open_page("pages/5_History.py", user)
    at.file_uploader(key="hv_file").set_value([("theirs.png", theirs, "image/png")])
    at.button(key="FormSubmitter:hv_drop-Open").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Swap"]
    assert preferences.load_feature_options(db, user.id)["swap"] == {
        "image_size": "2K",
        "aspect_ratio": "16:9",
    }
    assert next(s for s in at.selectbox if s.label == "Size").value == "2K"
