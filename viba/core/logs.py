"""The app's log: one line per event on stderr, JSON lines in production (VIBA_LOG_FORMAT),
with the job and user it concerns, and never a key, password or token.

`context(job_id=..., user_id=...)` names what the current thread is working on; every line
logged inside it carries those ids. Secrets are cut out of every line (message and trace
alike) by pattern, so an exception that quotes a URL with its password or an API key in a
request cannot leak them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_NONE: dict[str, str] = {}  # never changed: context() and set_user() make new dicts
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("viba_log")

_SECRETS = [
    # Google API keys (Gemini keys start with AIza)
    (re.compile(r"AIza[0-9A-Za-z_\-]{10,}"), "AIza[redacted]"),
    # user:password@ in any URL (DATABASE_URL, SMTP)
    (re.compile(r"(\b[a-zA-Z][\w+.-]*://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),
    # key=value pairs and headers that carry secrets
    (
        re.compile(
            r"(?i)(?<![a-z0-9])((?:x-goog-)?api[_-]?key|password|passwd|secret|token|authorization|"
            r"cookie|access[_-]?key(?:[_-]?id)?|secret[_-]?access[_-]?key)"
            r"(\"?\s*[:=]\s*\"?)(?:bearer\s+)?[^\s\"',&;]+"
        ),
        r"\1\2[redacted]",
    ),
    # JSON Web Tokens (login cookies, reset links)
    (re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+"), "[token redacted]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


@contextmanager
def context(**ids: str | None) -> Iterator[None]:
    """Name what this thread works on (job_id, user_id) for every line logged inside."""
    token = _context.set({**_context.get(_NONE), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


def set_user(user_id: str | None) -> None:
    """A page run's user, for the lines it logs (each run sets it anew)."""
    current = {k: v for k, v in _context.get(_NONE).items() if k != "user_id"}
    _context.set({**current, "user_id": user_id} if user_id else current)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
            **_context.get(_NONE),
        }
        if record.exc_info:
            line["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = _context.get(_NONE)
        record.ids = "".join(f" {k}={v}" for k, v in ids.items())
        return redact(super().format(record))


_HANDLER_NAME = "viba"


def setup(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send the app's loggers (viba.*) to stderr in the given format; safe to call again."""
    logger = logging.getLogger("viba")
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
