"""Region edit in the real app (`streamlit run`) and headless Chromium: the box drawn over a
preview, the words, and a new generation that changed only that box."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import Page, expect
from sqlalchemy import select

from viba.accounts import auth
from viba.core.config import load_settings
from viba.store.image_store import ImageStore, make_backend
from viba.store.models import GenerationHistory

from fake_gemini import png_bytes
from helpers import PASSWORD, add, main, open_logged_in, wait_until

pytestmark = pytest.mark.browser


@pytest.fixture()
def app_store(db, app_env):
    settings = load_settings(
        storage=app_env.get("VIBA_STORAGE", "db"), data_dir=app_env["VIBA_DATA_DIR"]
    )
    return ImageStore(make_backend(settings.storage, db, settings.data_dir))


def test_edit_a_region_in_the_browser(page: Page, streamlit_server, db, admin, app_store):
    owner = auth.register(db, f"box-{uuid.uuid4().hex[:8]}@example.com", "Box", PASSWORD)
    key = app_store.save(png_bytes(f"box {uuid.uuid4()}", size=(240, 320)), "image/png").key
    gid = add(db, owner, type="avatar", outputs=[key])
    open_logged_in(page, streamlit_server, owner, f"History?id={gid}")
    main(page).get_by_text("Edit a region").click()
    expect(main(page).get_by_text("Box: left to right (%)")).to_be_visible()
    main(page).get_by_label("What to change in the box").fill("a red hat")
    main(page).get_by_role("button", name="Edit the box").click()
    expect(page.get_by_text("Queued", exact=False).first).to_be_visible()

    def edited():
        with db.session() as s:
            found = s.scalars(
                select(GenerationHistory).where(
                    GenerationHistory.user_id == owner.id,
                    GenerationHistory.id != gid,
                    GenerationHistory.status == "completed",
                )
            ).first()
            return found

    r = wait_until(edited, timeout=30)
    box = tuple(r.input_params["region"]["box"])
    assert box == (60, 80, 180, 240)  # the default box: the middle half each way
    with (
        Image.open(io.BytesIO(app_store.load(key))) as a,
        Image.open(io.BytesIO(app_store.load(r.output_keys[0]))) as b,
    ):
        before, after = a.convert("RGB"), b.convert("RGB")
    diff = ImageChops.difference(before, after)
    diff.paste((0, 0, 0), box)
    assert diff.getbbox() is None  # nothing outside the box changed
