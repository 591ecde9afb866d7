"""A loopback fake of the Gemini API, for driving the real google-genai SDK in tests.

It answers `POST /{version}/models/{model}:generateContent` and `GET /{version}/models` like the
real service (status 200 with camelCase JSON, or an error status with Google's error body), and
records every request. By default it returns an image when the request asks for the IMAGE
modality and a text description otherwise; `script()` queues other answers per model. Like
Google's image generation docs describe for Gemini 3 image models, a gemini-3* model thinks
first: its answer starts with parts marked thought (a summary and an interim image) and the final
image carries a thoughtSignature.

It also takes uploads as the Files API does (the SDK's `files.upload`: a resumable upload,
`POST /upload/{version}/files` with `X-Goog-Upload-Command: start` answered by an
`X-Goog-Upload-URL` header, then the bytes to that URL with `upload, finalize`, answered by the
File with its `uri`, `name` and `state: ACTIVE`), `GET`/`DELETE /{version}/files/{id}`, and
resolves `fileData.fileUri` parts of later requests to the uploaded bytes; a URI it does not know
(deleted, never uploaded) gets 403 PERMISSION_DENIED, as the real API answers for a file that
does not exist or is not the caller's.

Image answers take the shapes the real service sends (each from Google's docs, read
2026-11-26):
- the final image is a JPEG (the Gemini API's image generation page shows `image/jpeg` answers
  from Gemini 3 image models) of the pixel size that `imageConfig.imageSize` (512, 1K, 2K, 4K;
  1K when absent) and `imageConfig.aspectRatio` give in Google's resolution table (1K: 1:1 is
  1024x1024, 3:4 is 896x1200, 16:9 is 1376x768, ...; 2K and 4K twice and four times that, 512
  half). Without an aspect ratio it follows the last input image, as the docs say, else 1:1;
- a size or ratio the model does not make is a 400 INVALID_ARGUMENT (MODEL_OUTPUTS: the sizes
  and ratios of each image model, from the Vertex AI model cards);
- usageMetadata counts the image tokens by modality (promptTokensDetails,
  candidatesTokensDetails): an input image is 1120 tokens for Gemini 3.1 Flash Image and 560 for
  Gemini 3 Pro Image; an output image 747 / 1120 / 1680 / 2520 (512 / 1K / 2K / 4K) and 1120 /
  1120 / 2000 (1K / 2K / 4K) respectively; thought tokens are thoughtsTokenCount.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

DEFAULT_MODELS = [  # what the real API serves today (2026-12-03); shut-down names get 404
    "gemini-nano-banana-2.1",
    "gemini-3.1-flash-lite-image",
    "gemini-3-pro-image",
    "gemini-3.1-pro-preview",
    "gemini-3.8-flash",
    "gemini-3.6-flash",
    "gemini-3.5-flash-lite",
    "gemini-3-flash-preview",
]
ERROR_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Google's resolution table for Gemini 3 image models at 1K (2K and 4K are exactly twice and
# four times it). The extreme ratios of Gemini 3.1 Flash Image (1:4 ... 8:1) and its 512 size
# are not in that table: here about one megapixel in multiples of 16, and half of 1K.
PIXELS_1K = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
    "1:4": (512, 2048),
    "4:1": (2048, 512),
    "1:8": (368, 2944),
    "8:1": (2944, 368),
}
SCALE = {"512": 0.5, "1K": 1, "2K": 2, "4K": 4}
STANDARD_RATIOS = tuple(PIXELS_1K)[:10]


@dataclass(frozen=True)
class ModelOutputs:
    sizes: dict[str, int]  # imageSize -> output image tokens
    ratios: tuple[str, ...]
    input_image_tokens: int


MODEL_OUTPUTS = {
    "gemini-3.1-flash-image": ModelOutputs(  # shut down 2026-10-29: listed in tests that need it
        {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520}, tuple(PIXELS_1K), 1120
    ),
    # Nano Banana 2.1 answers 400 to imageSize 512 (reported since its launch, 2026-10-06).
    "gemini-nano-banana-2.1": ModelOutputs(
        {"1K": 1120, "2K": 1680, "4K": 2520}, tuple(PIXELS_1K), 1120
    ),
    "gemini-3.1-flash-lite-image": ModelOutputs({"1K": 1120}, tuple(PIXELS_1K), 1120),
    "gemini-3-pro-image": ModelOutputs({"1K": 1120, "2K": 1120, "4K": 2000}, STANDARD_RATIOS, 560),
}
ANY_MODEL = ModelOutputs(dict.fromkeys(SCALE, 1290), tuple(PIXELS_1K), 258)  # any other model


def thinks(model: str) -> bool:
    """Gemini 3 image models, and Nano Banana 2.1 (its thinking levels minimal / medium /
    high), start with thought parts and sign their images."""
    return model.startswith(("gemini-3", "gemini-nano-banana"))


def pixels(size: str, ratio: str) -> tuple[int, int]:
    width, height = PIXELS_1K[ratio]
    return round(width * SCALE[size]), round(height * SCALE[size])


def jpeg_bytes(seed: str, size: tuple[int, int]) -> bytes:
    digest = hashlib.sha256(seed.encode()).digest()
    out = io.BytesIO()
    Image.new("RGB", size, tuple(digest[:3])).save(out, format="JPEG", quality=90)
    return out.getvalue()


def grainy_jpeg(seed: int, size: tuple[int, int], quality: int = 92) -> bytes:
    """A photo-like JPEG: a tinted gradient with grain, as costly to decode as a photo of
    its size (12 MP at quality 92 is about 4.5 MB; 1024x1024 at 90 about 0.5 MB)."""
    base = Image.linear_gradient("L").resize(size).convert("RGB")
    tint = Image.new("RGB", size, (60 + seed * 20 % 160, 120, 90))
    grain = Image.effect_noise(size, 30).convert("RGB")
    out = io.BytesIO()
    Image.blend(Image.blend(base, tint, 0.4), grain, 0.3).save(out, "JPEG", quality=quality)
    return out.getvalue()


_PATH = re.compile(r"^/(?P<version>v1\w*)/models/(?P<model>[^/:]+):generateContent$")
_FILE = re.compile(r"^/(?P<version>v1\w*)/(?P<name>files/[a-z0-9]+)$")
NO_FILE = "You do not have permission to access the File or it may not exist."


def png_bytes(seed: str, size: tuple[int, int] = (96, 128)) -> bytes:
    digest = hashlib.sha256(seed.encode()).digest()
    out = io.BytesIO()
    Image.new("RGB", size, tuple(digest[:3])).save(out, format="PNG")
    return out.getvalue()


@dataclass
class Recorded:
    method: str
    path: str
    model: str | None
    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    # The uploaded files its fileData parts named, resolved when it arrived: uri -> (mime, bytes)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    size: int = 0  # bytes of the request body as sent

    @property
    def modalities(self) -> list[str]:
        return self.body.get("generationConfig", {}).get("responseModalities", [])

    @property
    def contents(self) -> list[dict[str, Any]]:
        return list(self.body.get("contents", []))

    @property
    def parts(self) -> list[dict[str, Any]]:
        return [p for c in self.body.get("contents", []) for p in c.get("parts", [])]

    @property
    def text(self) -> str:
        return "\n".join(p["text"] for p in self.parts if "text" in p)

    @property
    def inline_images(self) -> list[dict[str, str]]:
        return [p["inlineData"] for p in self.parts if "inlineData" in p]

    @property
    def file_uris(self) -> list[str]:
        return [
            (p["fileData"].get("fileUri") or p["fileData"]["file_uri"])
            for p in self.parts
            if "fileData" in p
        ]

    @property
    def images(self) -> list[tuple[str, bytes]]:
        """(mime type, bytes) of each image, inline or uploaded, in order. The SDK sends
        URL-safe base64 and, for Part.from_bytes, the snake_case key mime_type (the real API
        takes both spellings)."""
        found = []
        for p in self.parts:
            if "inlineData" in p:
                i = p["inlineData"]
                found.append(
                    (i.get("mimeType") or i["mime_type"], base64.urlsafe_b64decode(i["data"]))
                )
            elif "fileData" in p:
                uri = p["fileData"].get("fileUri") or p["fileData"]["file_uri"]
                if uri in self.files:
                    found.append(self.files[uri])
        return found

    @property
    def system(self) -> str:
        si = self.body.get("systemInstruction") or {}
        return "\n".join(p.get("text", "") for p in si.get("parts", []))


@dataclass
class Answer:
    """One scripted answer: an HTTP status and a JSON body, after an optional delay."""

    status: int
    body: dict[str, Any]
    delay: float = 0.0
    gate: threading.Event | None = None  # hold the answer until the test sets this
    raw: bytes | None = None  # sent instead of the JSON body (a broken answer)
    content_type: str = "application/json; charset=UTF-8"
    drip: float = 0.0  # send the body one byte every `drip` seconds (a stalling network)


def proxy_page(code: int, html: str | None = None) -> Answer:
    """What a proxy or firewall in front of Google answers: its own HTML page, not Gemini's
    JSON (seen: a 400 "<!DOCTYPE HTML> <html ..." from a corporate proxy)."""
    page = html or (
        f'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>'
        f"<title>{code} Bad Request</title></head><body><h1>Bad Request</h1>"
        "<p>Your browser sent a request that this server could not understand.<br />"
        "</p><script>alert(1)</script></body></html>"
    )
    return Answer(code, {}, raw=page.encode(), content_type="text/html; charset=iso-8859-1")


def error(code: int, message: str = "", details: list | None = None, delay: float = 0.0) -> Answer:
    body = {
        "error": {
            "code": code,
            "message": message or f"fake error {code}",
            "status": ERROR_STATUS.get(code, "UNKNOWN"),
        }
    }
    if details:
        body["error"]["details"] = details
    return Answer(code, body, delay)


def candidate_answer(
    parts: list[dict], finish: str = "STOP", delay: float = 0.0, usage: dict | None = None
) -> Answer:
    return Answer(
        200,
        {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
            ],
            "usageMetadata": usage
            or {"promptTokenCount": 258, "candidatesTokenCount": 1290, "totalTokenCount": 1548},
        },
        delay,
    )


def usage_metadata(
    text: str, input_images: int, per_input: int, output_modality: str, output_tokens: int
) -> dict[str, Any]:
    """usageMetadata as the API reports it: token counts by modality, thoughts apart."""
    text_tokens = max(1, len(text) // 4)
    thoughts = 120 if output_modality == "IMAGE" else 0
    prompt = [{"modality": "TEXT", "tokenCount": text_tokens}]
    if input_images:
        prompt.append({"modality": "IMAGE", "tokenCount": input_images * per_input})
    prompt_total = text_tokens + input_images * per_input
    meta = {
        "promptTokenCount": prompt_total,
        "candidatesTokenCount": output_tokens,
        "totalTokenCount": prompt_total + output_tokens + thoughts,
        "promptTokensDetails": prompt,
        "candidatesTokensDetails": [{"modality": output_modality, "tokenCount": output_tokens}],
    }
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    return meta


def thinking_parts(seed: str) -> list[dict]:
    """What Gemini 3 image models send before the answer when they think (Google's image
    generation docs): a thought summary and an interim image, both marked thought: true. The
    interim image is smaller than any answer, so a test sees if it is taken for the answer."""
    interim = png_bytes("thought " + seed, size=(24, 32))
    return [
        {"text": "**Planning the composition** I will keep the subject centred.", "thought": True},
        {
            "inlineData": {"mimeType": "image/png", "data": base64.b64encode(interim).decode()},
            "thought": True,
        },
    ]


def dripping(every: float) -> Answer:
    """The default image answer, sent one byte every `every` seconds."""
    return Answer(200, {}, drip=every)


def broken(raw: bytes) -> Answer:
    """A 200 answer whose body is not the JSON the API sends (cut off, or not JSON at all)."""
    return Answer(200, {}, raw=raw)


def blocked_prompt(reason: str = "SAFETY") -> Answer:
    return Answer(
        200,
        {
            "promptFeedback": {"blockReason": reason},
            "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10},
        },
    )


def finish(reason: str) -> Answer:
    return Answer(
        200,
        {
            "candidates": [
                {"content": {"role": "model", "parts": []}, "finishReason": reason, "index": 0}
            ]
        },
    )


def text_only(text: str) -> Answer:
    return candidate_answer([{"text": text}])


def hang(seconds: float) -> Answer:
    """Answer normally, but only after `seconds` (longer than the client's timeout)."""
    return Answer(200, {}, seconds)


def gated(gate: threading.Event) -> Answer:
    """Answer normally once the test sets `gate`."""
    return Answer(200, {}, 0.0, gate)


@dataclass
class FakeGemini:
    latency: float = 0.0
    image_latency: float | None = None  # for IMAGE requests, when set (else latency)
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    requests: list[Recorded] = field(default_factory=list)
    description: str = (
        "1. Content: a test photo.\n2. Main subject: a red square.\n"
        "3. Spatial layout: centred.\n4. Relationships: none.\n5. Visible text: none"
    )

    # When set, each image request waits here until this many are in flight at once.
    barrier: threading.Barrier | None = None
    drips_finished: int = 0  # dripping answers sent to the end
    drips_aborted: int = 0  # dripping answers the client hung up on
    # generateContent requests being answered now, and the most at once since reset(), per
    # API key (the x-goog-api-key header)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: dict[str, int] = field(default_factory=dict)
    # Files API: uploaded files by uri -> (mime type, bytes), and uploads under way
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)  # uris deleted by a client
    _uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_uploads: bool = False  # answer uploads with 404, as a proxy without the Files API
    list_page_size: int = 50  # models.list's default page size
    list_latency: float = 0.0  # seconds before each page of models.list
    # Image answers as photo-like JPEGs (grainy_jpeg) of the asked size, each answer's bytes
    # its own, instead of flat ones of a few KB: a benchmark's worker then decodes and stores
    # outputs as heavy as Gemini's (hundreds of KB at 1K).
    photo_outputs: bool = False
    # What models.list says of a model beyond its name (displayName, description, ...)
    listed_details: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._scripts: dict[str | None, deque[Answer]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._photos: dict[tuple[int, int], bytes] = {}

    def _photo(self, size: tuple[int, int]) -> bytes:
        """One grainy photo per size, made once; each answer's own bytes after its end."""
        with self._lock:
            made = self._photos.get(size)
            if made is None:
                made = self._photos[size] = grainy_jpeg(len(self._photos), size, quality=90)
        return made + uuid.uuid4().bytes

    # --- control --------------------------------------------------------------------------
    def script(self, *answers: Answer, model: str | None = None) -> None:
        """Queue answers for a model (None: any model), used before the default answer."""
        with self._lock:
            self._scripts[model].extend(answers)

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self.requests.clear()
            self.latency = 0.0
            self.image_latency = None
            self.barrier = None
            self.drips_finished = self.drips_aborted = 0
            self.most_in_flight.clear()
            self.fail_uploads = False
            self.photo_outputs = False
            self.list_page_size = 50
            self.list_latency = 0.0
            self.listed_details.clear()
            self.deleted.clear()
            self.models = list(DEFAULT_MODELS)

    def generate_calls(self, model: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if r.model and (model is None or r.model == model)]

    def file_uri(self, match: re.Match) -> str:
        return f"{self.base_url}{match.group('version')}/{match.group('name')}"

    def uploads(self) -> list[Recorded]:
        """The requests that carried an upload's bytes."""
        return [
            r
            for r in self.requests
            if r.path.startswith("/upload/")
            and "upload" in r.headers.get("x-goog-upload-command", "")
        ]

    def bytes_sent(self) -> int:
        """Request bodies received since reset(), in bytes."""
        return sum(r.size for r in self.requests)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def start(self) -> FakeGemini:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle holds the body until
            # the client ACKs the headers, which a delayed ACK makes 40 ms on every answer
            # (Google's servers add no such wait).
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, answer: Answer) -> None:
                if answer.gate is not None and not answer.gate.wait(timeout=10):
                    answer = error(500, "fake: the test never opened the gate")
                if answer.delay:
                    time.sleep(answer.delay)
                payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if not answer.drip:
                        self.wfile.write(payload)
                        return
                    for i in range(len(payload)):
                        self.wfile.write(payload[i : i + 1])
                        self.wfile.flush()
                        time.sleep(answer.drip)
                    fake.drips_finished += 1
                except (BrokenPipeError, ConnectionResetError):
                    if answer.drip:
                        fake.drips_aborted += 1  # the client hung up mid-answer

            def _send_json(self, status: int, body: dict, headers: dict[str, str]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _upload(self) -> None:
                """The Files API's resumable upload: start, then the bytes with finalize."""
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                recorded = fake._record(self, None, {}, len(raw))
                command = (self.headers.get("X-Goog-Upload-Command") or "").lower()
                if fake.fail_uploads:
                    self._send(error(404, f"no route {self.path}"))
                    return
                if command == "start":
                    body = json.loads(raw or b"{}")
                    upload_id = hashlib.sha256(
                        f"{time.time_ns()}{id(recorded)}".encode()
                    ).hexdigest()[:16]
                    meta = body.get("file") or {}
                    mime = (
                        meta.get("mimeType")
                        or self.headers.get("X-Goog-Upload-Header-Content-Type")
                        or "application/octet-stream"
                    )
                    with fake._lock:
                        fake._uploads[upload_id] = {"mime": mime, "data": b""}
                    version = self.path.split("/")[2]
                    url = f"{fake.base_url}upload/{version}/files?upload_id={upload_id}"
                    headers = {"X-Goog-Upload-URL": url, "X-Goog-Upload-Status": "active"}
                    self._send_json(200, {}, headers)
                    return
                upload_id = self.path.split("upload_id=")[-1]
                with fake._lock:
                    upload = fake._uploads.get(upload_id)
                    if upload is not None:
                        upload["data"] += raw
                if upload is None:
                    self._send(error(404, "fake: no such upload"))
                    return
                if "finalize" not in command:
                    self._send_json(200, {}, {"X-Goog-Upload-Status": "active"})
                    return
                name = f"files/{upload_id[:12]}"
                version = "v1beta"
                uri = f"{fake.base_url}{version}/{name}"
                with fake._lock:
                    fake.files[uri] = (upload["mime"], upload["data"])
                    del fake._uploads[upload_id]
                self._send_json(
                    200,
                    {"file": fake._file_json(uri)},
                    {"X-Goog-Upload-Status": "final"},
                )

            def do_DELETE(self) -> None:  # noqa: N802
                fake._record(self, None, {})
                match = _FILE.match(self.path.split("?")[0])
                uri = (
                    f"{fake.base_url}{match.group('version')}/{match.group('name')}"
                    if match
                    else ""
                )
                with fake._lock:
                    known = fake.files.pop(uri, None) is not None
                    if known:
                        fake.deleted.append(uri)
                if known:
                    self._send_json(200, {}, {})
                else:
                    self._send(error(403, NO_FILE))

            def do_GET(self) -> None:  # noqa: N802
                fake._record(self, None, {})
                file = _FILE.match(self.path.split("?")[0])
                if file:
                    uri = fake.file_uri(file)
                    if uri in fake.files:
                        self._send_json(200, fake._file_json(uri), {})
                    else:
                        self._send(error(403, NO_FILE))
                    return
                if re.match(r"^/v1\w*/models(\?.*)?$", self.path):
                    self._send(Answer(200, fake._model_page(self.path), fake.list_latency))
                else:
                    self._send(error(404, f"no route {self.path}"))

            def do_POST(self) -> None:  # noqa: N802
                if self.path.startswith("/upload/"):
                    self._upload()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                body = json.loads(raw or b"{}")
                match = _PATH.match(self.path.split("?")[0])
                model = match.group("model") if match else None
                recorded = fake._record(self, model, body, len(raw))
                if model is None:
                    self._send(error(404, f"no route {self.path}"))
                    return
                missing = [u for u in recorded.file_uris if u not in recorded.files]
                if missing:
                    self._send(
                        error(
                            403,
                            f"You do not have permission to access the File {missing[0]} "
                            "or it may not exist.",
                        )
                    )
                    return
                key = self.headers.get("x-goog-api-key", "")
                with fake._lock:
                    fake.in_flight[key] = fake.in_flight.get(key, 0) + 1
                    fake.most_in_flight[key] = max(
                        fake.most_in_flight.get(key, 0), fake.in_flight[key]
                    )
                try:
                    self._send(fake._answer(recorded))
                finally:
                    with fake._lock:
                        fake.in_flight[key] -= 1

        class Server(ThreadingHTTPServer):
            # The default listen backlog (5) drops connections when dozens of calls start at
            # once, and the client's SYN retry then adds a whole second.
            request_queue_size = 256

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- behaviour ------------------------------------------------------------------------
    def _record(
        self, handler: BaseHTTPRequestHandler, model: str | None, body: dict, size: int = 0
    ) -> Recorded:
        recorded = Recorded(
            handler.command,
            handler.path,
            model,
            body,
            {k.lower(): v for k, v in handler.headers.items()},
            time.monotonic(),
            size=size,
        )
        with self._lock:
            recorded.files = {u: self.files[u] for u in recorded.file_uris if u in self.files}
            self.requests.append(recorded)
        return recorded

    def _model_page(self, path: str) -> dict[str, Any]:
        """One page of models.list as the Gemini API answers it: Model resources with
        supportedGenerationMethods, pageSize (default 50) and pageToken / nextPageToken. An
        embedding model is listed too, as on the real list: it cannot generateContent."""
        query = dict(
            part.split("=", 1) for part in path.partition("?")[2].split("&") if "=" in part
        )
        size = int(query.get("pageSize") or self.list_page_size)
        start = int(query.get("pageToken") or 0)
        entries = [
            (m, ["generateContent", "countTokens", "createCachedContent"]) for m in self.models
        ]
        entries.append(("gemini-embedding-001", ["embedContent", "countTextTokens"]))
        page = entries[start : start + size]
        body: dict[str, Any] = {
            "models": [
                {
                    "name": f"models/{m}",
                    "version": "001",
                    "displayName": m,
                    "inputTokenLimit": 131072,
                    "outputTokenLimit": 32768,
                    "supportedGenerationMethods": methods,
                    **self.listed_details.get(m, {}),
                }
                for m, methods in page
            ]
        }
        if start + size < len(entries):
            body["nextPageToken"] = str(start + size)
        return body

    def _file_json(self, uri: str) -> dict[str, Any]:
        """A File resource as the Files API returns it."""
        mime, data = self.files[uri]
        name = "files/" + uri.rsplit("/", 1)[1]
        return {
            "name": name,
            "displayName": "upload",
            "mimeType": mime,
            "sizeBytes": str(len(data)),
            "sha256Hash": base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode(),
            "uri": uri,
            "state": "ACTIVE",
            "source": "UPLOADED",
        }

    def _answer(self, request: Recorded) -> Answer:
        unsigned = self._unsigned_model_image(request)
        if unsigned:
            return error(400, unsigned)
        with self._lock:
            queue = next(
                (self._scripts[k] for k in (request.model, None) if self._scripts.get(k)), None
            )
            scripted = queue.popleft() if queue else None
        if "IMAGE" in request.modalities and self.barrier is not None:
            try:
                self.barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                return error(500, "fake: the image requests did not run concurrently")
        base = self.latency
        if "IMAGE" in request.modalities and self.image_latency is not None:
            base = self.image_latency
        delay = base + (scripted.delay if scripted else 0.0)
        gate = scripted.gate if scripted else None
        if scripted is not None and (scripted.body or scripted.raw is not None):
            return Answer(
                scripted.status, scripted.body, delay, gate, scripted.raw, scripted.drip
            )  # as it is
        # The default answer (hang() and gated() only change its timing).
        if request.model not in self.models:
            return error(
                404,
                f"models/{request.model} is not found for API version "
                f"{request.path.split('/')[1]}, or is not supported for "
                "generateContent.",
                delay=delay,
            )
        outputs = MODEL_OUTPUTS.get(request.model, ANY_MODEL)
        if "IMAGE" in request.modalities:
            config = request.body.get("generationConfig", {}).get("imageConfig") or {}
            size = config.get("imageSize") or "1K"
            ratio = config.get("aspectRatio") or self._followed_ratio(request, outputs)
            if size not in outputs.sizes or ratio not in outputs.ratios:
                wrong = f"image size {size}" if size not in outputs.sizes else f"ratio {ratio}"
                return error(400, f"The {wrong} is not supported by {request.model}.", delay=delay)
            data = (
                self._photo(pixels(size, ratio))
                if self.photo_outputs
                else jpeg_bytes(request.text + request.model, pixels(size, ratio))
            )
            final = {
                "inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(data).decode()}
            }
            usage = usage_metadata(
                request.text,
                len(request.images),
                outputs.input_image_tokens,
                "IMAGE",
                outputs.sizes[size],
            )
            if thinks(request.model):
                answer = candidate_answer(
                    thinking_parts(request.text)
                    + [{**final, "thoughtSignature": base64.b64encode(b"sig").decode()}],
                    usage=usage,
                )
            else:
                answer = candidate_answer([final], usage=usage)
        else:
            usage = usage_metadata(
                request.text, len(request.images), 258, "TEXT", len(self.description) // 4
            )
            answer = candidate_answer([{"text": self.description}], usage=usage)
        return Answer(200, answer.body, delay, gate, drip=scripted.drip if scripted else 0.0)

    @staticmethod
    def _unsigned_model_image(request: Recorded) -> str | None:
        """Gemini 3 image models check the thought signatures of a conversation: an image the
        model sent, passed back without its thoughtSignature, is a 400 (Google's thought
        signatures page: strict validation for image generation and editing)."""
        if not thinks(request.model or ""):
            return None
        for c, content in enumerate(request.body.get("contents", []), start=1):
            if content.get("role") != "model":
                continue
            for p, part in enumerate(content.get("parts", []), start=1):
                image = "inlineData" in part or "inline_data" in part
                if image and not (part.get("thoughtSignature") or part.get("thought_signature")):
                    return (
                        f"Image part is missing a thought_signature in content position {c}, "
                        f"part position {p}."
                    )
        return None

    @staticmethod
    def _followed_ratio(request: Recorded, outputs: ModelOutputs) -> str:
        """Without aspectRatio the output follows the last input image (else 1:1)."""
        if not request.images:
            return "1:1"
        with Image.open(io.BytesIO(request.images[-1][1])) as last:
            width, height = last.size
        shape = math.log(width / height)
        return min(
            outputs.ratios,
            key=lambda r: abs(math.log(PIXELS_1K[r][0] / PIXELS_1K[r][1]) - shape),
        )
