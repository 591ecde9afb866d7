"""Region edits, the pixels: the part of an image sent to the model (the box with a margin of
context around it) and the answer pasted back inside the box only, with a soft edge that
fades inward, so that every pixel outside the box stays exactly as it was.

Gemini has no mask parameter (it edits the whole image it is given), which is why the app
sends only the crop and does the masking itself.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from viba.core.errors import UserError

MIN_SIDE = 16  # px: a smaller box is not an edit anyone can see
MARGIN = 0.25  # context around the box, as a share of its sides
FEATHER = 0.06  # the soft edge, as a share of the box's shorter side (inside the box)

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom excluded)


class RegionError(UserError, ValueError):
    pass


@dataclass(frozen=True)
class Plan:
    box: Box  # the region to change, in the image's pixels
    crop: Box  # what is sent: the box and its margin, inside the image


def plan(size: tuple[int, int], fractions: tuple[float, float, float, float]) -> Plan:
    """The box (given as shares 0-1 of the width and height: left, top, right, bottom) in
    pixels, and the crop sent for it."""
    width, height = size
    try:
        left, top, right, bottom = (float(f) for f in fractions)
    except (TypeError, ValueError):
        raise RegionError("Draw the box to change inside the image.") from None
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise RegionError("Draw the box to change inside the image.")
    box = (round(left * width), round(top * height), round(right * width), round(bottom * height))
    if box[2] - box[0] < MIN_SIDE or box[3] - box[1] < MIN_SIDE:
        raise RegionError(f"The box is too small: make it at least {MIN_SIDE} pixels a side.")
    mx, my = round((box[2] - box[0]) * MARGIN), round((box[3] - box[1]) * MARGIN)
    crop = (
        max(0, box[0] - mx),
        max(0, box[1] - my),
        min(width, box[2] + mx),
        min(height, box[3] + my),
    )
    return Plan(box, crop)


def cropped(data: bytes, region: Plan) -> bytes:
    """The crop to send, as PNG."""
    with Image.open(io.BytesIO(data)) as img:
        part = img.convert("RGB").crop(region.crop)
    out = io.BytesIO()
    part.save(out, "PNG")
    return out.getvalue()


def mask_for(region: Plan) -> Image.Image:
    """Within the crop: 255 inside the box fading to 0 at its border, 0 outside it."""
    cw, ch = region.crop[2] - region.crop[0], region.crop[3] - region.crop[1]
    left, top = region.box[0] - region.crop[0], region.box[1] - region.crop[1]
    right, bottom = region.box[2] - region.crop[0], region.box[3] - region.crop[1]
    feather = max(1, round(min(right - left, bottom - top) * FEATHER))
    mask = Image.new("L", (cw, ch), 0)
    # The solid part stops `feather` inside the box; blurred, it fades out towards the border.
    inner = (left + feather, top + feather, right - feather - 1, bottom - feather - 1)
    ImageDraw.Draw(mask).rectangle(inner, fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(feather / 2))
    # Nothing outside the box, whatever the blur spread.
    box_only = Image.new("L", (cw, ch), 0)
    ImageDraw.Draw(box_only).rectangle((left, top, right - 1, bottom - 1), fill=255)
    return ImageChops.multiply(mask, box_only)


def pasted(original: bytes, answer: bytes, region: Plan) -> bytes:
    """The original with the answer (the edited crop, at any size) pasted inside the box."""
    with Image.open(io.BytesIO(original)) as img:
        base = img.convert("RGB")
    with Image.open(io.BytesIO(answer)) as made:
        edited = made.convert("RGB").resize(
            (region.crop[2] - region.crop[0], region.crop[3] - region.crop[1]),
            Image.Resampling.LANCZOS,
        )
    part = base.crop(region.crop)
    part.paste(edited, (0, 0), mask_for(region))
    base.paste(part, region.crop[:2])
    out = io.BytesIO()
    base.save(out, "PNG")
    return out.getvalue()
