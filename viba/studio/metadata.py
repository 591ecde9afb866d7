"""What a downloaded image says about itself: the feature, models, prompt, options and the
generation's id, written into the file (a PNG iTXt chunk, a JPEG XMP packet) as A1111 and
Fooocus do, and read back from a file someone drops on History.

The pixels are never re-encoded: a chunk or segment is inserted into the bytes as they are.
A file read back is untrusted: it is parsed with bounds, only up to its first image data, and
what it says is checked again by whoever uses it.
"""

from __future__ import annotations

import json
import re
import struct
import uuid
import zlib
from html import escape, unescape
from typing import Any

KEY = "viba"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
MAX_JSON = 60_000  # a JPEG segment holds 65,533 bytes
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_XMP_JSON = re.compile(rb"<viba:json>(.*?)</viba:json>", re.S)


def describe(view: Any, index: int) -> dict[str, Any]:
    """The settings of one output of a generation (a GenerationView), as they are kept."""
    params = view.input_params or {}
    return {
        "app": "Viba Studio",
        "generation_id": str(view.id),
        "feature": view.type,
        "output": index,
        "models": params.get("models") or {},
        "options": params.get("options") or {},
        "prompt": (params.get("prompt") or "")[:20_000],
        "created_at": view.created_at.isoformat(timespec="seconds"),
    }


Piece = bytes | memoryview


def embed(data: bytes, meta: dict[str, Any]) -> bytes:
    """The image with its settings inside (PNG and JPEG; any other format as it is)."""
    pieces = embed_pieces(data, meta)
    return data if len(pieces) == 1 else b"".join(pieces)


def embed_pieces(data: bytes, meta: dict[str, Any]) -> list[Piece]:
    """embed's file as pieces to write one after another: the image's own bytes are views of
    `data`, not copies (a 4K image is several megabytes; a zip being streamed writes them as
    they are)."""
    text = json.dumps(meta, ensure_ascii=False)
    if len(text.encode()) > MAX_JSON:
        meta = {**meta, "prompt": meta.get("prompt", "")[:2000] + "…"}
        text = json.dumps(meta, ensure_ascii=False)
    if data.startswith(PNG_SIGNATURE):
        return _png_with(data, text)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_with(data, text)
    return [data]


def read(data: bytes) -> dict[str, Any] | None:
    """The settings a file carries, or None (not ours, damaged, or not an image)."""
    raw = None
    try:
        if data.startswith(PNG_SIGNATURE):
            raw = _png_text(data)
        elif data.startswith(b"\xff\xd8"):
            raw = _jpeg_text(data)
    except (struct.error, IndexError, ValueError):
        return None
    if raw is None or len(raw) > MAX_JSON * 2:
        return None
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(meta, dict):
        return None
    try:
        meta["generation_id"] = str(uuid.UUID(str(meta.get("generation_id"))))
    except ValueError:
        meta["generation_id"] = None
    return meta


# --- PNG: an iTXt chunk before IEND ---------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with(data: bytes, text: str) -> list[Piece]:
    end = data.rfind(b"IEND")
    if end < 12:
        return [data]
    body = KEY.encode() + b"\x00\x00\x00" + b"\x00" + b"\x00" + text.encode()
    software = _chunk(b"tEXt", b"Software\x00Viba Studio")
    view = memoryview(data)
    return [view[: end - 4], _chunk(b"iTXt", body) + software, view[end - 4 :]]


MAX_CHUNKS = 1000  # a file of a million tiny chunks is read no further than this


def _png_text(data: bytes) -> str | None:
    at = len(PNG_SIGNATURE)
    for _ in range(MAX_CHUNKS):
        if at + 8 > len(data):
            return None
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        if len(body) < length or kind == b"IEND":
            return None
        if kind == b"iTXt" and body.startswith(KEY.encode() + b"\x00"):
            # keyword \0, compression flag, method, language \0, translated keyword \0, text
            rest = body[len(KEY) + 1 :]
            if rest[:1] != b"\x00":
                return None  # compressed: not what we write
            rest = rest[2:]
            rest = rest[rest.index(b"\x00") + 1 :]
            rest = rest[rest.index(b"\x00") + 1 :]
            return rest.decode()
        at += 12 + length
    return None


# --- JPEG: an APP1 XMP segment after SOI -----------------------------------------------------


def _jpeg_with(data: bytes, text: str) -> list[Piece]:
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:viba="https://viba.studio/ns/1.0/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Viba Studio">'
        f"<viba:json>{escape(text, quote=False)}</viba:json>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    body = XMP_HEADER + packet
    if len(body) + 2 > 0xFFFF:
        return [data]
    view = memoryview(data)
    return [view[:2], b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body, view[2:]]


def _jpeg_text(data: bytes) -> str | None:
    at = 2
    for _ in range(MAX_CHUNKS):
        if at + 4 > len(data):
            return None
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            return None
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        body = data[at + 4 : at + 2 + length]
        if marker == 0xE1 and body.startswith(XMP_HEADER):
            found = _XMP_JSON.search(body)
            return unescape(found.group(1).decode()) if found else None
        at += 2 + length
    return None
