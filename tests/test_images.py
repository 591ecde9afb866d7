"""Input images are checked and normalised before any Gemini call."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from viba.engine.images import ImageInputError, prepare_image, probe_image


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


def test_transparent_png_becomes_an_rgb_jpeg_on_white():
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    prepared = prepare_image(encode(img, "PNG"), "logo.png")
    assert prepared.mime_type == "image/jpeg"  # what goes to Gemini is always JPEG
    out = Image.open(io.BytesIO(prepared.data))
    assert out.mode == "RGB" and min(out.getpixel((5, 5))) >= 253


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
@pytest.mark.parametrize("check", [prepare_image, probe_image])
def test_bad_files_are_refused_with_a_clear_message(data, message, check):
    with pytest.raises(ImageInputError, match=message) as info:
        check(data, "upload.bin")
    assert "upload.bin" in str(info.value)


def test_a_probe_keeps_the_upload_as_it_came_with_its_upright_size():
    img = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = encode(img, "JPEG", exif=exif)
    probed = probe_image(io.BytesIO(photo), "phone.jpg")
    assert probed.data == photo and not probed.normalised
    assert (probed.width, probed.height, probed.mime_type) == (20, 40, "image/jpeg")
    png = probe_image(encode(Image.new("RGBA", (30, 10)), "PNG"), "logo.png")
    assert (png.width, png.height, png.mime_type) == (30, 10, "image/png")


def test_a_probe_refuses_too_many_pixels_from_the_header():
    big = encode(Image.new("L", (4000, 3000)), "PNG")
    with pytest.raises(ImageInputError, match="4000×3000 pixels; the most this studio takes is 10"):
        probe_image(big, "big.png", max_pixels=10_000_000)
    assert probe_image(big, "big.png", max_pixels=12_000_000).width == 4000


def test_a_jpeg_cut_short_after_its_header_is_refused_by_the_probe():
    photo = encode(Image.effect_noise((600, 400), 64).convert("RGB"), "JPEG", quality=95)
    with pytest.raises(ImageInputError, match="damaged or incomplete"):
        probe_image(photo[: len(photo) // 2], "cut.jpg")


def test_decompression_bomb_limit_is_kept(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    for size in [
        (40, 40),
        (100, 100),
    ]:  # over the limit (a warning in Pillow) and over 2x (an error)
        with pytest.raises(ImageInputError, match="too many pixels"):
            prepare_image(encode(Image.new("RGB", size), "PNG"))


def _modes():
    grey16 = Image.new("I;16", (8, 8), 32768)
    grey16.putpixel((0, 0), 0)
    grey16.putpixel((7, 7), 65535)
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    return [
        # (image, format, save options, pixel (x, y), expected RGB, tolerance)
        (grey16, "PNG", {}, (3, 3), (128, 128, 128), 2),
        (grey16, "PNG", {}, (0, 0), (0, 0, 0), 2),
        (grey16, "PNG", {}, (7, 7), (255, 255, 255), 2),
        (Image.new("I", (8, 8), 40000), "TIFF", {}, (3, 3), (156, 156, 156), 2),
        (Image.new("F", (8, 8), 0.5), "TIFF", {}, (3, 3), (128, 128, 128), 2),
        (Image.new("LA", (8, 8), (100, 0)), "PNG", {}, (3, 3), (255, 255, 255), 2),
        (Image.new("LA", (8, 8), (100, 255)), "PNG", {}, (3, 3), (100, 100, 100), 2),
        (palette, "PNG", {"transparency": 1}, (3, 3), (255, 255, 255), 2),
        (palette, "PNG", {}, (3, 3), (255, 0, 0), 2),
        (Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", {}, (3, 3), (255, 0, 0), 3),
        (
            Image.new("RGB", (8, 8), (0, 0, 255)).convert("YCbCr"),
            "JPEG",
            {},
            (3, 3),
            (0, 0, 255),
            3,
        ),
        (Image.new("1", (8, 8), 1), "PNG", {}, (3, 3), (255, 255, 255), 2),
    ]


@pytest.mark.parametrize("img, fmt, options, where, expected, tolerance", _modes())
def test_every_upload_mode_keeps_its_tones(img, fmt, options, where, expected, tolerance):
    out = io.BytesIO()
    img.save(out, format=fmt, **options)
    prepared = prepare_image(out.getvalue(), f"{img.mode}.{fmt.lower()}")
    with Image.open(io.BytesIO(prepared.data)) as got:
        got.load()
        assert got.mode == "RGB"
        pixel = got.getpixel(where)
    assert all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True)), pixel


def test_a_tiny_file_with_too_many_pixels_is_refused_before_decoding():
    out = io.BytesIO()
    Image.new("1", (9400, 9400)).save(out, format="PNG")  # 10 KB, 88 megapixels
    assert len(out.getvalue()) < 20_000
    with pytest.raises(ImageInputError, match="9400×9400 pixels; the most this studio takes"):
        prepare_image(out.getvalue(), "bomb.png")


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_within_the_budget():
    out = io.BytesIO()
    Image.new("RGB", (7000, 5000), (10, 200, 30)).save(out, format="JPEG", quality=80)
    prepared = prepare_image(out.getvalue(), "big.jpg", max_side=2048, max_pixels=30_000_000)
    assert (prepared.width, prepared.height) == (2048, 1463)  # 35 MP drafted to 1/2 first
    with pytest.raises(ImageInputError, match="megapixels"):
        prepare_image(out.getvalue(), "big.jpg", max_side=8000, max_pixels=30_000_000)


def test_no_more_decodes_run_at_once_than_the_setting(monkeypatch):
    import threading

    from viba.engine import images

    running, most = [0], [0]
    lock = threading.Condition()
    real = images._normalised

    def counted(img, max_side):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            lock.notify_all()
            # Hold this decode until more than the limit run at once (which must not happen)
            # or a short while has passed.
            lock.wait_for(lambda: running[0] > images.DEFAULT_DECODES_AT_ONCE, timeout=0.3)
        try:
            return real(img, max_side)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(images, "_normalised", counted)
    data = encode(Image.new("RGB", (1500, 1500), "red"), "PNG")
    threads = [threading.Thread(target=prepare_image, args=(data,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert 1 <= most[0] <= images.DEFAULT_DECODES_AT_ONCE


def test_a_phone_heic_is_taken_like_any_photo_upright_and_as_jpeg():
    # A HEIC photo as an iPhone saves it, turned by its EXIF orientation (6: 90° clockwise).
    img = Image.new("RGB", (80, 60), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    img.save(out, format="HEIF", exif=exif.tobytes())
    prepared = prepare_image(out.getvalue(), "IMG_0001.HEIC")
    assert prepared.mime_type == "image/jpeg" and (prepared.width, prepared.height) == (60, 80)
    with Image.open(io.BytesIO(prepared.data)) as jpeg:
        assert jpeg.format == "JPEG"
        r, g, b = jpeg.getpixel((30, 40))
        assert abs(r - 10) < 12 and abs(g - 120) < 12 and abs(b - 200) < 12
    probed = probe_image(out.getvalue(), "IMG_0001.HEIC")
    assert (probed.width, probed.height, probed.mime_type) == (60, 80, "image/heic")
    assert prepare_image(probed.data, "IMG_0001.HEIC").data == prepared.data
    for check in (prepare_image, probe_image):
        with pytest.raises(ImageInputError, match="“cut.heic” is (not an image|damaged)"):
            check(out.getvalue()[: len(out.getvalue()) // 2], "cut.heic")
