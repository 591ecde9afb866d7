"""Region edits, the pixels: the part of an image sent to the model (the region with a margin
of context around it) and the answer pasted back inside the region only, with a soft edge
that fades inward, so that every pixel outside it stays exactly as it was. A region is a box,
or brush strokes painted over the image (their bounding box is what is cropped; only the
painted pixels change).

Gemini has no mask parameter (it edits the whole image it is given), which is why the app
sends only the crop and does the masking itself.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from viba.core.errors import UserError

MIN_SIDE = 16  # px: a smaller box is not an edit anyone can see
MARGIN = 0.25  # context around the box, as a share of its sides
FEATHER = 0.06  # the soft edge, as a share of the box's shorter side (inside the box)

MAX_STROKES = 200
MAX_POINTS = 5000  # in all strokes: a painted region sent by a browser stays small
MIN_BRUSH, MAX_BRUSH = 0.003, 0.25  # a brush's radius, as a share of the image's width

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom excluded)
# A stroke in the image's pixels: (radius, the points it passes through).
Stroke = tuple[int, tuple[tuple[int, int], ...]]


class RegionError(UserError, ValueError):
    pass


@dataclass(frozen=True)
class Plan:
    box: Box  # the region to change, in the image's pixels (the strokes' bounds when painted)
    crop: Box  # what is sent: the box and its margin, inside the image
    strokes: tuple[Stroke, ...] = ()  # painted: only these pixels change; none: the whole box


@dataclass(frozen=True)
class Brush:
    """Strokes painted in the browser, in shares 0-1 of the image: (radius as a share of its
    width, the points as (x, y) shares of its width and height)."""

    strokes: tuple[tuple[float, tuple[tuple[float, float], ...]], ...]

    @classmethod
    def parse(cls, raw: Any) -> Brush:
        """From the browser's JSON ([{"r": radius, "p": [[x, y], ...]}, ...]), checked: a
        sentence for anything else (it comes from a page: anything may arrive)."""
        if not isinstance(raw, Sequence) or isinstance(raw, str | bytes) or not raw:
            raise RegionError("Paint over the part of the image to change.")
        if len(raw) > MAX_STROKES:
            raise RegionError("Too many strokes: clear the brush and paint fewer.")
        strokes, count = [], 0
        for item in raw:
            points = item.get("p") if isinstance(item, dict) else None
            if not isinstance(points, Sequence) or isinstance(points, str | bytes) or not points:
                raise RegionError("Paint over the part of the image to change.")
            count += len(points)
            if count > MAX_POINTS:
                raise RegionError("Too many strokes: clear the brush and paint fewer.")
            radius = _share(item.get("r"))
            if not MIN_BRUSH <= radius <= MAX_BRUSH:
                raise RegionError("Paint over the part of the image to change.")
            pairs = []
            for point in points:
                if not isinstance(point, Sequence) or isinstance(point, str) or len(point) != 2:
                    raise RegionError("Paint over the part of the image to change.")
                pairs.append((_share(point[0]), _share(point[1])))
            strokes.append((radius, tuple(pairs)))
        return cls(tuple(strokes))


def _share(value: Any) -> float:
    """A share 0-1 (a number, finite, in range); RegionError for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RegionError("Paint over the part of the image to change.")
    share = float(value)
    if not math.isfinite(share) or not 0 <= share <= 1:
        raise RegionError("Paint over the part of the image to change.")
    return share


def plan(size: tuple[int, int], mark: tuple[float, float, float, float] | Brush) -> Plan:
    """The region in pixels and the crop sent for it. `mark` is a box (shares 0-1 of the
    width and height: left, top, right, bottom) or a Brush."""
    width, height = size
    strokes: tuple[Stroke, ...] = ()
    if isinstance(mark, Brush):
        strokes = tuple(
            (
                max(1, round(r * width)),
                tuple((round(x * (width - 1)), round(y * (height - 1))) for x, y in points),
            )
            for r, points in mark.strokes
        )
        box = (
            max(0, min(x - r for r, points in strokes for x, _ in points)),
            max(0, min(y - r for r, points in strokes for _, y in points)),
            min(width, max(x + r + 1 for r, points in strokes for x, _ in points)),
            min(height, max(y + r + 1 for r, points in strokes for _, y in points)),
        )
        small = f"The painted part is too small: paint at least {MIN_SIDE} pixels each way."
    else:
        try:
            left, top, right, bottom = (float(f) for f in mark)
        except (TypeError, ValueError):
            raise RegionError("Draw the box to change inside the image.") from None
        if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
            raise RegionError("Draw the box to change inside the image.")
        box = (
            round(left * width), round(top * height), round(right * width), round(bottom * height)
        )  # fmt: skip
        small = f"The box is too small: make it at least {MIN_SIDE} pixels a side."
    if box[2] - box[0] < MIN_SIDE or box[3] - box[1] < MIN_SIDE:
        raise RegionError(small)
    mx, my = round((box[2] - box[0]) * MARGIN), round((box[3] - box[1]) * MARGIN)
    crop = (
        max(0, box[0] - mx),
        max(0, box[1] - my),
        min(width, box[2] + mx),
        min(height, box[3] + my),
    )
    return Plan(box, crop, strokes)


def cropped(data: bytes, region: Plan) -> bytes:
    """The crop to send, as PNG."""
    with Image.open(io.BytesIO(data)) as img:
        part = img.convert("RGB").crop(region.crop)
    out = io.BytesIO()
    part.save(out, "PNG")
    return out.getvalue()


def painted(region: Plan) -> Image.Image:
    """Within the crop: 255 where the strokes passed (round ends and joins), 0 elsewhere."""
    cw, ch = region.crop[2] - region.crop[0], region.crop[3] - region.crop[1]
    ox, oy = region.crop[:2]
    mask = Image.new("L", (cw, ch), 0)
    draw = ImageDraw.Draw(mask)
    for r, points in region.strokes:
        moved = [(x - ox, y - oy) for x, y in points]
        if len(moved) > 1:
            draw.line(moved, fill=255, width=2 * r + 1)
        for x, y in moved:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return mask


def mask_for(region: Plan) -> Image.Image:
    """Within the crop: 255 inside the region fading to 0 at its border, 0 outside it."""
    if region.strokes:
        return _soft_inside(painted(region), min(r for r, _ in region.strokes))
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


def _soft_inside(hard: Image.Image, thinnest: int) -> Image.Image:
    """A painted mask with a soft edge inside it: shrunk by the feather (a box blur read
    back at its top), blurred, and cut to the painted pixels, so nothing outside changes."""
    feather = max(1, round(thinnest / 3))
    shrunk = hard.filter(ImageFilter.BoxBlur(feather)).point(lambda v: 255 if v >= 254 else 0)
    soft = shrunk.filter(ImageFilter.GaussianBlur(feather / 2))
    return ImageChops.multiply(soft, hard)


def pasted(original: bytes, answer: bytes, region: Plan) -> bytes:
    """The original with the answer (the edited crop, at any size) pasted inside the region."""
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
