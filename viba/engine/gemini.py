"""Calls to Gemini through the google-genai SDK, and the errors a person can act on.

Retries are the SDK's own (HttpRetryOptions): 408/500/502/503/504 and timeouts are retried with
backoff; 429 (quota) is not retried but reported at once with the model and the retry delay.
Every failure becomes one GenerationError subclass whose message is meant for the user.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import importlib
import importlib.util
import io
import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image

from viba.core.config import Settings
from viba.core.errors import UserError
from viba.engine.catalog import load_catalog
from viba.engine.images import PreparedImage

if TYPE_CHECKING:
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types

log = logging.getLogger(__name__)


def _sdk() -> tuple[Any, Any, Any]:
    """google-genai (genai, errors, types), imported on first use: it is the heaviest import
    of the app, and pages that make no Gemini call (login, History, Admin) never need it."""
    from google import genai
    from google.genai import errors, types

    return genai, errors, types


RETRIED_STATUS_CODES = [408, 500, 502, 503, 504]


@functools.cache
def _http_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(timeout errors, transport errors) of the HTTP library the SDK sends through: httpx2 (a
    fork of httpx under its own name) or httpx; catch either. Imported with the SDK, not at
    start-up (a page that makes no Gemini call never needs them)."""
    libs = [
        m
        for m in (
            importlib.util.find_spec(n) and importlib.import_module(n) for n in ("httpx2", "httpx")
        )
        if m
    ]
    return tuple(m.TimeoutException for m in libs), tuple(m.HTTPError for m in libs)


def warm_up() -> None:
    """Import the SDK ahead of the first job (a job runner calls this a moment after it
    starts), so that the first Generate of a process does not wait for it."""
    _sdk()
    _http_errors()


BLOCKED_FINISH_REASONS = {
    "SAFETY",
    "IMAGE_SAFETY",
    "PROHIBITED_CONTENT",
    "IMAGE_PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
    "IMAGE_RECITATION",
}


# --- errors ------------------------------------------------------------------------------


class GenerationError(UserError, RuntimeError):
    """A generation failed; str() is a message for the user."""

    kind = "error"

    def __init__(self, message: str, model: str | None = None) -> None:
        super().__init__(message)
        self.model = model


class MissingApiKey(GenerationError):
    kind = "missing_key"


class InvalidApiKey(GenerationError):
    kind = "invalid_key"


class ModelNotFound(GenerationError):
    kind = "model_not_found"

    def __init__(self, message: str, model: str | None, replacement: str | None) -> None:
        super().__init__(message, model)
        self.replacement = replacement


class QuotaExceeded(GenerationError):
    kind = "quota"

    def __init__(self, message: str, model: str | None, retry_after: float | None) -> None:
        super().__init__(message, model)
        self.retry_after = retry_after


class BadRequest(GenerationError):
    kind = "bad_request"


class ServerUnavailable(GenerationError):
    kind = "server"


class GenerationTimeout(GenerationError):
    kind = "timeout"


class PromptBlocked(GenerationError):
    kind = "prompt_blocked"


class ImageBlocked(GenerationError):
    kind = "image_blocked"


class TextOnlyAnswer(GenerationError):
    kind = "text_only"

    def __init__(self, message: str, model: str | None, text: str) -> None:
        super().__init__(message, model)
        self.text = text


class NoImage(GenerationError):
    kind = "no_image"


class EmptyAnswer(GenerationError):
    kind = "empty"


class BadImage(GenerationError):
    kind = "bad_image"


class BadAnswer(GenerationError):
    kind = "bad_answer"


_STORABLE = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def _readable_image(data: bytes, model: str) -> tuple[bytes, str]:
    """The image's bytes and real type (never the declared one): one that does not decode is
    one failed output, not stored; another format is kept as PNG."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            probe.verify()
        if fmt in _STORABLE:
            return data, _STORABLE[fmt]
        with Image.open(io.BytesIO(data)) as img:
            out = io.BytesIO()
            img.save(out, format="PNG")
            return out.getvalue(), "image/png"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise BadImage(
            f"Gemini ({model}) sent an image that could not be read. Try again.", model
        ) from None


# --- configuration and results ------------------------------------------------------------


@dataclass(frozen=True)
class GeminiConfig:
    api_key: str = field(repr=False)
    base_url: str | None = None
    api_version: str = "v1beta"
    timeout_s: float = 120.0  # per read (the SDK's)
    retry_attempts: int = 3
    retry_initial_delay: float = 1.0
    retry_max_delay: float = 20.0
    deadline_s: float = 150.0  # the whole call, retries included (ours)
    max_concurrent: int = 64  # calls in flight at once with this key (Gemini's rate limits)
    own_key: bool = False  # the user's own key, not the server's (a resumed job needs to know)
    upload_inputs: bool = True  # upload an input used by several calls once (Files API)

    @classmethod
    def from_settings(cls, settings: Settings, user_api_key: str | None = None) -> GeminiConfig:
        """The user's own key if they gave one, else the server's GEMINI_API_KEY."""
        own = (user_api_key or "").strip()
        key = own or settings.gemini_api_key
        if not key:
            raise MissingApiKey(
                "No Gemini API key: add your own key on the Profile page, or ask an admin to "
                "set GEMINI_API_KEY on the server."
            )
        return cls(
            api_key=key,
            base_url=settings.gemini_base_url,
            api_version=settings.gemini_api_version,
            timeout_s=settings.gemini_timeout_seconds,
            retry_attempts=settings.gemini_retry_attempts,
            retry_initial_delay=settings.gemini_retry_initial_delay,
            deadline_s=settings.gemini_deadline_seconds,
            max_concurrent=settings.gemini_max_concurrent,
            own_key=bool(own),
            upload_inputs=settings.gemini_upload_inputs,
        )


@dataclass(frozen=True)
class Usage:
    """Tokens as Gemini reports them: output_tokens (candidates) counts the answer's text and
    image tokens, image_tokens the image ones among them; thought_tokens are apart (billed as
    output text)."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    image_tokens: int = 0
    thought_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
            self.image_tokens + other.image_tokens,
            self.thought_tokens + other.thought_tokens,
        )


@dataclass(frozen=True)
class TextResult:
    text: str
    model: str
    usage: Usage
    seconds: float


@dataclass(frozen=True)
class ImageResult:
    data: bytes = field(repr=False)
    mime_type: str
    model: str
    usage: Usage
    seconds: float
    thoughts: str = ""  # the model's thought summary, when it sent one (not shown by default)
    signature: str = ""  # the final image part's thoughtSignature (base64): a next turn needs it


@dataclass(frozen=True)
class Turn:
    """An earlier turn of a conversation with an image model (multi-turn editing): the user's
    inputs and words, then the model's image with the thought signature it came with."""

    role: str  # "user" or "model"
    text: str = ""
    images: Sequence[Input] = ()
    image: bytes = field(default=b"", repr=False)  # the model's answer
    mime_type: str = "image/png"
    signature: str = ""


# --- client ------------------------------------------------------------------------------

_clients: dict[GeminiConfig, genai.Client] = {}
_clients_lock = threading.Lock()


def get_client(config: GeminiConfig) -> genai.Client:
    """One SDK client (and its connection pool) per configuration, shared by threads."""
    genai, _, types = _sdk()
    with _clients_lock:
        client = _clients.get(config)
        if client is None:
            retry = types.HttpRetryOptions(
                attempts=max(1, config.retry_attempts),
                initial_delay=config.retry_initial_delay,
                max_delay=config.retry_max_delay,
                http_status_codes=RETRIED_STATUS_CODES,
            )
            http_options = types.HttpOptions(
                api_version=config.api_version,
                base_url=config.base_url,
                # The SDK takes milliseconds, per read; the whole call has config.deadline_s.
                timeout=int(min(config.timeout_s, config.deadline_s) * 1000),
                retry_options=retry,
            )
            client = _clients[config] = genai.Client(
                api_key=config.api_key, http_options=http_options
            )
        return client


# --- error translation -------------------------------------------------------------------


def _retry_delay(details: object) -> float | None:
    """The RetryInfo delay ('37s') a 429 may carry, in seconds."""
    error = details.get("error", details) if isinstance(details, dict) else None
    items = error.get("details", []) if isinstance(error, dict) else []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and "retryDelay" in item:
            match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(item["retryDelay"]))
            if match:
                return float(match.group(1))
    return None


MESSAGE_CHARS = 300  # of Gemini's own error message, shown to the user
_MARKUP = re.compile(r"<\s*(!doctype|html|head|body|title|h1|p|div|pre)\b", re.I)


def gemini_message(exc: genai_errors.APIError) -> str:
    """The message of Gemini's own JSON error ({"error": {"message": ...}}) on one line, cut at
    MESSAGE_CHARS; "" when the answer was not Gemini's JSON: the SDK then carries the raw body
    (an HTML page from a proxy or a firewall, a bare status) as its message, never to be
    shown to a user."""
    details = exc.details
    error = details.get("error") if isinstance(details, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or _MARKUP.search(message):
        return ""
    line = " ".join(message.split())
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 1].rstrip() + "…"


def translate_api_error(exc: genai_errors.APIError, model: str) -> GenerationError:
    code = exc.code or 0
    message = gemini_message(exc)
    if code == 404:
        replacement = load_catalog().replacement_for(model)
        hint = (
            f" Choose {replacement} instead (System Prompts page)."
            if replacement
            else (" Choose another model on the System Prompts page.")
        )
        return ModelNotFound(
            f"The model {model} is not available to this API key or no longer exists.{hint}",
            model,
            replacement,
        )
    if code == 429:
        delay = _retry_delay(exc.details)
        when = f" Try again in {delay:g} seconds." if delay is not None else " Try again later."
        return QuotaExceeded(f"Gemini quota exhausted for {model}.{when}", model, delay)
    if code in (401, 403) or (
        code == 400 and ("API key" in message or exc.status == "UNAUTHENTICATED")
    ):
        return InvalidApiKey(
            "The Gemini API key was refused (invalid, expired or without "
            "access). Check the key on your Profile page.",
            model,
        )
    if code in (408, 504):
        return GenerationTimeout(f"Gemini ({model}) took too long to answer. Try again.", model)
    if code >= 500:
        return ServerUnavailable(
            f"Gemini ({model}) is having trouble right now (error {code}). Try again in a minute.",
            model,
        )
    if not message:
        return BadRequest(
            f"Gemini refused the request for {model} (error {code}) with an answer that is not "
            "Gemini's own: a proxy or firewall between this server and Google may have sent it.",
            model,
        )
    return BadRequest(f"Gemini refused the request for {model} (error {code}): {message}", model)


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _io_loop() -> asyncio.AbstractEventLoop:
    """The process's one event loop for Gemini calls, on a thread of its own: a call that
    waits costs no thread there, and asyncio.wait_for can cancel it at its deadline."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="viba-gemini-io", daemon=True).start()
            _loop = loop
        return _loop


_limits: dict[str, asyncio.Semaphore] = {}


def _in_flight(config: GeminiConfig) -> asyncio.Semaphore:
    """The calls in flight at once with one API key (on the I/O loop's thread only): waiting
    here costs nothing, and it keeps a burst within the key's rate limits."""
    key = hashlib.sha256(config.api_key.encode()).hexdigest()
    if key not in _limits:
        _limits[key] = asyncio.Semaphore(max(1, config.max_concurrent))
    return _limits[key]


def _call(
    config: GeminiConfig, model: str, contents: list, gen_config: types.GenerateContentConfig
):
    _, genai_errors, _ = _sdk()
    timeout_errors, transport_errors = _http_errors()
    client = get_client(config)
    started = time.perf_counter()

    async def limited() -> types.GenerateContentResponse:
        async with _in_flight(config):
            return await client.aio.models.generate_content(
                model=model, contents=contents, config=gen_config
            )

    async def call() -> types.GenerateContentResponse:
        return await asyncio.wait_for(limited(), timeout=config.deadline_s)

    try:
        # On the I/O loop: at the deadline the request is cancelled and its connection closed,
        # however slowly the answer drips in and however many retries were under way.
        response = asyncio.run_coroutine_threadsafe(call(), _io_loop()).result()
    except genai_errors.APIError as exc:
        raise translate_api_error(exc, model) from exc
    except TimeoutError as exc:
        raise GenerationTimeout(
            f"Gemini ({model}) did not finish within {config.deadline_s:g} seconds. Try again.",
            model,
        ) from exc
    except timeout_errors as exc:
        raise GenerationTimeout(
            f"Gemini ({model}) did not answer within {config.timeout_s:g} seconds. Try again.",
            model,
        ) from exc
    except ValueError as exc:  # JSON that does not parse, or not in the API's shape
        log.warning("Gemini (%s) sent an answer that could not be read: %s", model, exc)
        raise BadAnswer(
            f"Gemini ({model}) sent an answer that could not be read. Try again.", model
        ) from exc
    except transport_errors as exc:
        raise ServerUnavailable(
            f"Gemini could not be reached ({type(exc).__name__}). Check the "
            "network or GEMINI_BASE_URL.",
            model,
        ) from exc
    return response, time.perf_counter() - started


def _usage(response: types.GenerateContentResponse) -> Usage:
    meta = response.usage_metadata
    if meta is None:
        return Usage()
    images = sum(
        d.token_count or 0
        for d in meta.candidates_tokens_details or []
        if _enum_name(d.modality) == "IMAGE"
    )
    return Usage(
        meta.prompt_token_count or 0,
        meta.candidates_token_count or 0,
        meta.total_token_count or 0,
        images,
        meta.thoughts_token_count or 0,
    )


def _check_blocked(response: types.GenerateContentResponse, model: str) -> types.Candidate | None:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        reason = _enum_name(feedback.block_reason)
        raise PromptBlocked(
            f"Gemini blocked the request ({reason}). Change the images or the "
            "options and try again.",
            model,
        )
    if not response.candidates:
        return None
    candidate = response.candidates[0]
    reason = _enum_name(candidate.finish_reason) if candidate.finish_reason else ""
    if reason in BLOCKED_FINISH_REASONS:
        raise ImageBlocked(
            f"Gemini would not produce this image ({reason}). Try other inputs "
            "or a lower creativity.",
            model,
        )
    return candidate


def _enum_name(value: object) -> str:
    return str(getattr(value, "value", value) or "")


@dataclass(frozen=True)
class UploadedImage:
    """An input uploaded once with the Files API and referenced by its URI in each call (a
    Derivation's photo goes to Gemini once instead of five times, base64 in JSON each time).
    Google keeps an upload for 48 hours; the pipeline deletes it when its calls are done."""

    uri: str
    name: str
    mime_type: str


Input = PreparedImage | UploadedImage


def upload_image(config: GeminiConfig, image: PreparedImage) -> Input:
    """The image uploaded (Files API), or, where uploading is off or fails (a proxy without
    the Files API, a network error), the image itself: the calls then send its bytes."""
    if not config.upload_inputs:
        return image
    client = get_client(config)

    async def upload() -> Any:
        async with _in_flight(config):
            return await asyncio.wait_for(
                client.aio.files.upload(
                    file=io.BytesIO(image.data),
                    config={"mime_type": image.mime_type, "display_name": "viba input"},
                ),
                timeout=config.deadline_s,
            )

    try:
        uploaded = asyncio.run_coroutine_threadsafe(upload(), _io_loop()).result()
    except Exception as exc:  # noqa: BLE001 - any failure: send the bytes instead
        log.warning("input not uploaded (%s); sending it inline", type(exc).__name__)
        return image
    state = _enum_name(uploaded.state) if uploaded.state else "ACTIVE"
    if not uploaded.uri or not uploaded.name or state != "ACTIVE":
        log.warning("input upload not usable (state %s); sending it inline", state)
        return image
    return UploadedImage(uploaded.uri, uploaded.name, uploaded.mime_type or image.mime_type)


def delete_upload(config: GeminiConfig, image: Input) -> None:
    """Delete an uploaded input (best effort: it expires after 48 hours anyway)."""
    if not isinstance(image, UploadedImage):
        return
    client = get_client(config)

    async def delete() -> None:
        await asyncio.wait_for(client.aio.files.delete(name=image.name), timeout=30)

    try:
        asyncio.run_coroutine_threadsafe(delete(), _io_loop()).result()
    except Exception as exc:  # noqa: BLE001 - it expires by itself
        log.info("uploaded input %s not deleted (%s)", image.name, type(exc).__name__)


def _parts(images: Sequence[Input], text: str) -> list[types.Part]:
    _, _, types = _sdk()
    parts = [
        types.Part.from_uri(file_uri=img.uri, mime_type=img.mime_type)
        if isinstance(img, UploadedImage)
        else types.Part.from_bytes(data=img.data, mime_type=img.mime_type)
        for img in images
    ]
    parts.append(types.Part.from_text(text=text))
    return parts


def _content(turn: Turn) -> Any:
    _, _, types = _sdk()
    if turn.role == "user":
        return types.Content(role="user", parts=_parts(turn.images, turn.text))
    part = types.Part(
        inline_data=types.Blob(data=turn.image, mime_type=turn.mime_type),
        thought_signature=base64.b64decode(turn.signature) if turn.signature else None,
    )
    return types.Content(role="model", parts=[part])


def generate_text(
    config: GeminiConfig,
    model: str,
    images: Sequence[Input],
    prompt: str,
    system: str | None = None,
    temperature: float | None = None,
) -> TextResult:
    _, _, types = _sdk()
    gen_config = types.GenerateContentConfig(
        system_instruction=system,
        temperature=temperature,
        response_modalities=["TEXT"],
    )
    response, seconds = _call(config, model, _parts(images, prompt), gen_config)
    candidate = _check_blocked(response, model)
    texts = (
        [p.text for p in (candidate.content.parts or []) if not p.thought]
        if candidate and candidate.content
        else []
    )
    text = "\n".join(t for t in texts if t).strip()
    if not text:
        raise EmptyAnswer(f"Gemini ({model}) returned no text. Try again.", model)
    return TextResult(text, model, _usage(response), seconds)


def generate_image(
    config: GeminiConfig,
    model: str,
    images: Sequence[Input],
    prompt: str,
    system: str | None = None,
    temperature: float | None = None,
    aspect_ratio: str = "3:4",
    image_size: str | None = None,
    history: Sequence[Turn] = (),
) -> ImageResult:
    """One image. image_size: 512, 1K, 2K or 4K (None: the model's default, 1K). history: the
    conversation so far (each model turn with its thought signature, as Gemini 3 image
    models require), before this turn's images and prompt."""
    _, _, types = _sdk()
    gen_config = types.GenerateContentConfig(
        system_instruction=system,
        temperature=temperature,
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(aspect_ratio=aspect_ratio, image_size=image_size),
    )
    contents: Any = _parts(images, prompt)
    if history:
        contents = [*(_content(turn) for turn in history)]
        contents.append(types.Content(role="user", parts=_parts(images, prompt)))
    response, seconds = _call(config, model, contents, gen_config)
    candidate = _check_blocked(response, model)
    parts = (candidate.content.parts or []) if candidate and candidate.content else []
    # Gemini 3 image models may think first: parts marked thought (text, and interim images)
    # come before the answer. The result is the last image that is not a thought.
    answer = [p for p in parts if not p.thought]
    finals = [
        p.inline_data
        for p in answer
        if p.inline_data is not None
        and p.inline_data.data
        and (p.inline_data.mime_type or "").startswith("image/")
    ]
    if finals:
        blob = finals[-1]
        data = blob.data if isinstance(blob.data, bytes) else base64.b64decode(blob.data or b"")
        data, mime = _readable_image(data, model)
        thoughts = "\n".join(p.text for p in parts if p.thought and p.text).strip()
        final = next(p for p in reversed(answer) if p.inline_data is blob)
        signature = base64.b64encode(final.thought_signature or b"").decode()
        return ImageResult(data, mime, model, _usage(response), seconds, thoughts, signature)
    text = " ".join(p.text for p in answer if p.text).strip()
    if text:
        raise TextOnlyAnswer(
            f"Gemini ({model}) answered with text instead of an image: “{text[:200]}”", model, text
        )
    raise NoImage(f"Gemini ({model}) returned no image. Try again.", model)


LIST_DEADLINE_S = 15.0  # the whole model list, every page and retry: a page waits for it


@dataclass(frozen=True)
class ListedModel:
    """One model of the key's models.list, as Google describes it (its words: one line each,
    cut short, never markup to render)."""

    id: str
    display_name: str = ""
    description: str = ""
    input_token_limit: int | None = None
    output_token_limit: int | None = None


def _line(text: object, chars: int = 200) -> str:
    """Text from Google's list on one line, without control characters, cut at chars."""
    words = " ".join("".join(c for c in str(text or "") if c.isprintable() or c.isspace()).split())
    return words if len(words) <= chars else words[: chars - 1].rstrip() + "…"


def list_available_models(config: GeminiConfig, deadline_s: float = LIST_DEADLINE_S) -> set[str]:
    """The model ids this key can call with generateContent (models.list, every page),
    without the 'models/' prefix; within deadline_s in all (a page is waiting)."""
    return {m.id for m in list_models(config, deadline_s)}


def list_models(config: GeminiConfig, deadline_s: float = LIST_DEADLINE_S) -> list[ListedModel]:
    """The models this key can call with generateContent, with what the list says of each;
    within deadline_s in all."""
    _, genai_errors, _ = _sdk()
    timeout_errors, transport_errors = _http_errors()
    slow: tuple[type[BaseException], ...] = (TimeoutError, *timeout_errors)
    client = get_client(config)

    async def listed() -> list[ListedModel]:
        found: dict[str, ListedModel] = {}
        async for m in await client.aio.models.list():
            actions = m.supported_actions
            if m.name and (actions is None or "generateContent" in actions):
                model_id = m.name.removeprefix("models/")
                found[model_id] = ListedModel(
                    model_id,
                    _line(m.display_name, 80),
                    _line(m.description),
                    m.input_token_limit,
                    m.output_token_limit,
                )
        return list(found.values())

    async def call() -> list[ListedModel]:
        return await asyncio.wait_for(listed(), timeout=deadline_s)

    try:
        return asyncio.run_coroutine_threadsafe(call(), _io_loop()).result()
    except genai_errors.APIError as exc:
        raise translate_api_error(exc, "models.list") from exc
    except slow as exc:
        raise GenerationTimeout(
            f"Gemini did not send its model list within {deadline_s:g} seconds."
        ) from exc
    except ValueError as exc:  # JSON that does not parse, or not in the API's shape
        log.warning("Gemini's model list could not be read: %s", exc)
        raise BadAnswer("Gemini sent a model list that could not be read. Try again.") from exc
    except transport_errors as exc:
        raise ServerUnavailable(f"Gemini could not be reached ({type(exc).__name__}).") from exc
