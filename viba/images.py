"""Input images: checked and normalised before any Gemini call.

EXIF orientation applied, converted to RGB, long side capped, re-encoded as JPEG (PNG stays
PNG). Pillow's decompression-bomb limit stays in force. Anything else is refused with a message
a person understands.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from viba.errors import UserError

DEFAULT_MAX_SIDE = 2048
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO", "HEIF", "AVIF"}


class ImageInputError(UserError, ValueError):
    """The upload cannot be used; the message is for the user."""


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    mime_type: str
    width: int
    height: int
    name: str = "image"


def prepare_image(
    data: bytes, name: str = "image", max_side: int = DEFAULT_MAX_SIDE
) -> PreparedImage:
    label = f"“{name}”"
    if not data:
        raise ImageInputError(f"{label} is empty (0 bytes). Choose another file.")
    try:
        with warnings.catch_warnings():
            # Over Pillow's pixel limit is a warning up to 2x and an error beyond: refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                probe.verify()
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                rgb = _to_rgb(ImageOps.exif_transpose(opened))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError(f"{label} has too many pixels to be processed safely.") from None
    except UnidentifiedImageError:
        raise ImageInputError(f"{label} is not an image (PNG, JPEG or WEBP expected).") from None
    except (OSError, SyntaxError, ValueError):
        raise ImageInputError(f"{label} is damaged or incomplete; upload it again.") from None
    if fmt not in ACCEPTED_FORMATS:
        raise ImageInputError(f"{label} is a {fmt or 'unknown'} file; use PNG, JPEG or WEBP.")
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if fmt == "PNG":
        rgb.save(out, format="PNG", optimize=False)
        mime = "image/png"
    else:
        rgb.save(out, format="JPEG", quality=92)
        mime = "image/jpeg"
    return PreparedImage(out.getvalue(), mime, rgb.width, rgb.height, name)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any mode a user can upload, as 8-bit RGB with its real tones: 16- and 32-bit greys are
    scaled (not clipped to white), float images by their range, transparency laid on white."""
    if img.mode == "RGB":
        return img.copy()
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        grey = img if img.mode == "I" else img.convert("I")
        high = grey.getextrema()[1]
        scale = 1 / 256 if isinstance(high, int) and high > 255 else 1.0
        if isinstance(high, int) and high > 65535:
            scale = 255 / high
        return grey.point(lambda v: v * scale).convert("L").convert("RGB")
    if img.mode == "F":
        extrema = img.getextrema()
        low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]
        if 0 <= low and high <= 1:  # a 0..1 image
            low, high = 0.0, 1.0
        span = (high - low) or 1.0
        return img.point(lambda v: (v - low) * 255 / span).convert("L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    ):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV
