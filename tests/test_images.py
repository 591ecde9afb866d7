"""Input images are checked and normalised before any Gemini call."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from viba.images import ImageInputError, prepare_image


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **kw)
    return out.getvalue()


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    prepared = prepare_image(encode(img, "JPEG", exif=exif), "phone.jpg")
    assert (prepared.width, prepared.height) == (20, 40)
    assert prepared.mime_type == "image/jpeg"


def test_transparent_png_becomes_rgb_png_on_white():
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    prepared = prepare_image(encode(img, "PNG"), "logo.png")
    assert prepared.mime_type == "image/png"
    out = Image.open(io.BytesIO(prepared.data))
    assert out.mode == "RGB" and out.getpixel((5, 5)) == (255, 255, 255)


def test_webp_and_palette_images_become_rgb_jpeg():
    for img, fmt in [
        (Image.new("RGB", (30, 30), "blue"), "WEBP"),
        (Image.new("P", (30, 30)), "GIF"),
    ]:
        prepared = prepare_image(encode(img, fmt))
        assert prepared.mime_type == "image/jpeg"
        assert Image.open(io.BytesIO(prepared.data)).mode == "RGB"


def test_long_side_is_capped_keeping_the_aspect_ratio():
    prepared = prepare_image(encode(Image.new("RGB", (3000, 1500)), "PNG"), max_side=2048)
    assert (prepared.width, prepared.height) == (2048, 1024)
    small = prepare_image(encode(Image.new("RGB", (300, 200)), "PNG"))
    assert (small.width, small.height) == (300, 200)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "is empty"),
        (b"just some text, not a picture", "is not an image"),
        (encode(Image.new("RGB", (200, 200), "red"), "JPEG")[:300], "damaged or incomplete"),
        (encode(Image.new("RGB", (200, 200), "red"), "PNG")[:-40], "damaged or incomplete"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(data, message):
    with pytest.raises(ImageInputError, match=message) as info:
        prepare_image(data, "upload.bin")
    assert "upload.bin" in str(info.value)


def test_decompression_bomb_limit_is_kept(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    for size in [
        (40, 40),
        (100, 100),
    ]:  # over the limit (a warning in Pillow) and over 2x (an error)
        with pytest.raises(ImageInputError, match="too many pixels"):
            prepare_image(encode(Image.new("RGB", size), "PNG"))
