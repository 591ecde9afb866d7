"""Input images: checked and normalised before any Gemini call.

Two steps, so that the web process never decodes a photo: `probe_image` (where the upload
arrives) reads only the header: format, pixel count and upright size, and that the file is
whole; `prepare_image` (in the worker that runs the job) decodes it: EXIF orientation applied,
converted to RGB, long side capped, re-encoded as JPEG (quality 90). Memory is bounded: a pixel
budget read from the header before decoding (Pillow's own bomb limit, ~179 MP, is far too high
for a 512 MB server), JPEG decoded at a reduced scale, a bound on decodes at once. Anything
else is refused with a message a person understands.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from viba.core.errors import UserError

try:  # phone photos: HEIC/HEIF read like any other upload
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - it is in requirements.txt
    pass

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
    # False for an upload only probed (its own bytes and format, not decoded yet): a worker
    # prepares it before the first Gemini call. width and height are then its upright size.
    normalised: bool = True


# An upload's format -> the type it is stored as until a worker prepares it.
UPLOAD_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heic",
    "AVIF": "image/avif",
}
_TURNED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_JPEG_END = b"\xff\xd9"
_JPEG_TAIL = 65_536  # a whole JPEG ends its image with this marker within its last bytes


JPEG_QUALITY = 90
DEFAULT_MAX_PIXELS = 30_000_000  # decoded; a 12 MP photo is 12,000,000
DEFAULT_DECODES_AT_ONCE = 2
_RESIZE_FIRST = {"RGB", "RGBA", "L", "LA", "CMYK", "YCbCr"}  # modes thumbnail() handles as is


# How many uploads are decoded at once in this process (VIBA_DECODES_AT_ONCE, set by
# viba.services.configure): a decode holds the whole picture in memory, so a burst waits here
# instead of adding up.
_decode_slots = threading.BoundedSemaphore(DEFAULT_DECODES_AT_ONCE)
# Uploads read from the store to be prepared (a worker's jobs) or written to it (submits): as
# many at once as decodes, so that 32 jobs starting together hold 2 uploads in memory, not 32
# (see holding()).
_holding_slots = threading.BoundedSemaphore(DEFAULT_DECODES_AT_ONCE)


def set_decodes_at_once(count: int) -> None:
    """Decodes that start from now on share `count` slots (running ones finish on theirs)."""
    global _decode_slots, _holding_slots
    _decode_slots = threading.BoundedSemaphore(count)
    _holding_slots = threading.BoundedSemaphore(count)


def holding() -> threading.BoundedSemaphore:
    """Hold one while an upload's bytes are read and prepared, or stored (`with holding():
    ...`): what the store and the decoder make of it stays bounded however many jobs start."""
    return _holding_slots


def probe_image(
    data: bytes | BinaryIO, name: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS
) -> PreparedImage:
    """Check an upload from its header alone (no decode: a fraction of a millisecond for a
    12 MP photo): a format we take, at most max_pixels, whole as far as its header and end
    tell. The upload's own bytes come back, with its upright size, for a worker to prepare."""
    label = f"“{name}”"
    source = _Source(data)
    if not source.size:
        raise ImageInputError(f"{label} is empty (0 bytes). Choose another file.")
    with _reading(label):
        with Image.open(source.open()) as probe:
            fmt = _accepted(probe, label)
            _within(probe.size, max_pixels, label)
            turned = fmt in ("JPEG", "MPO") and _orientation(probe) in _TURNED
            width, height = probe.size
            probe.verify()  # PNG: every chunk's checksum; others: what the header says
        if fmt in ("JPEG", "MPO") and _JPEG_END not in source.tail(_JPEG_TAIL):
            raise ImageInputError(f"{label} is damaged or incomplete; upload it again.")
    if turned:
        width, height = height, width
    return PreparedImage(source.read(), UPLOAD_TYPES[fmt], width, height, name, normalised=False)


def prepare_image(
    data: bytes | BinaryIO,
    name: str = "image",
    max_side: int = DEFAULT_MAX_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> PreparedImage:
    """Check and normalise one upload, with bounded memory: the size is read from the header
    and refused above max_pixels before anything is decoded, a JPEG is decoded at a reduced
    scale when that still covers max_side, and one decode holds one copy at a time."""
    label = f"“{name}”"
    source = _Source(data)
    if not source.size:
        raise ImageInputError(f"{label} is empty (0 bytes). Choose another file.")
    with _reading(label):
        with Image.open(source.open()) as probe:
            _accepted(probe, label)
            probe.verify()
        with _decode_slots, Image.open(source.open()) as opened:
            if opened.format == "JPEG":
                opened.draft(opened.mode, _covering(opened.size, max_side))
            _within(opened.size, max_pixels, label)
            rgb = _normalised(opened, max_side)
    out = io.BytesIO()
    # JPEG whatever came in: a photo saved as PNG was 5-6 times the bytes to send, five
    # times per derivation, for no visible gain to the image model.
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY)
    return PreparedImage(out.getvalue(), "image/jpeg", rgb.width, rgb.height, name)


@contextmanager
def _reading(label: str) -> Iterator[None]:
    """Pillow's ways of saying a file is not a usable image, as one sentence each."""
    try:
        with warnings.catch_warnings():
            # Over Pillow's pixel limit is a warning up to 2x and an error beyond: refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError(f"{label} has too many pixels to be processed safely.") from None
    except UnidentifiedImageError:
        raise ImageInputError(
            f"{label} is not an image (PNG, JPEG, WEBP or HEIC expected)."
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, ImageInputError):
            raise
        raise ImageInputError(f"{label} is damaged or incomplete; upload it again.") from None


def _accepted(probe: Image.Image, label: str) -> str:
    fmt = probe.format or ""
    if fmt not in ACCEPTED_FORMATS:
        raise ImageInputError(f"{label} is a {fmt or 'unknown'} file; use PNG, JPEG, WEBP or HEIC.")
    return fmt


def _within(size: tuple[int, int], max_pixels: int, label: str) -> None:
    if size[0] * size[1] > max_pixels:
        raise ImageInputError(
            f"{label} is {size[0]}×{size[1]} pixels; the most this "
            f"studio takes is {max_pixels // 1_000_000} megapixels."
        )


def _orientation(probe: Image.Image) -> int:
    try:
        return int(probe.getexif().get(0x0112) or 1)
    except (ValueError, TypeError, SyntaxError, OSError):
        return 1  # unreadable EXIF: the decode ignores it too


DRAFT_SLACK = 0.9  # a JPEG may be decoded down to 90% of max_side (4000 px -> 2000, not 2048)


class _Source:
    """The upload's bytes, or its file object read in place (no copy of a large upload)."""

    def __init__(self, data: bytes | BinaryIO) -> None:
        self.data = data
        if isinstance(data, bytes | bytearray):
            self.size = len(data)
        else:
            self.size = data.seek(0, io.SEEK_END)

    def open(self) -> BinaryIO:
        if isinstance(self.data, bytes | bytearray):
            return io.BytesIO(self.data)
        self.data.seek(0)
        return self.data

    def tail(self, count: int) -> bytes:
        if isinstance(self.data, bytes | bytearray):
            return bytes(self.data[-count:])
        self.data.seek(max(0, self.size - count))
        return self.data.read()

    def read(self) -> bytes:
        if isinstance(self.data, bytes | bytearray):
            return bytes(self.data)
        getvalue = getattr(self.data, "getvalue", None)  # an upload: its buffer, not a copy
        if getvalue is not None:
            return bytes(getvalue())
        self.data.seek(0)
        return self.data.read()


def _covering(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The smallest size, with the image's aspect, that a reduced JPEG decode may give: its
    long side at least DRAFT_SLACK x max_side. (A 12 MP photo then decodes at half scale,
    a quarter of the memory, and comes out 2000 px long instead of 2048.)"""
    width, height = size
    scale = min(1.0, DRAFT_SLACK * max_side / max(width, height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _normalised(img: Image.Image, max_side: int) -> Image.Image:
    """Decoded, made small, turned upright and converted, keeping one copy at a time."""
    img.load()
    if img.mode in _RESIZE_FIRST and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # in place
    upright = ImageOps.exif_transpose(img)
    rgb = _to_rgb(upright)
    del upright
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return rgb


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
