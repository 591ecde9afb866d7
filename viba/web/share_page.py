"""Share links in the browser of someone without an account: `/s/<token>` is a small HTML page
of what the link shows (viba.studio.shares), `/s/<token>/t/<n>` and `/s/<token>/i/<n>` its
n-th image's thumbnail and full image. Nothing else is reachable from a link: images go by
their place, the page is built here with every piece of text escaped, and a strict content
policy lets it load only its own images (no script at all). An unknown, expired or revoked
link, and a place that is not on it, get the same 404 page.
"""

from __future__ import annotations

import html
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from viba import i18n, services
from viba.core.config import get_settings
from viba.store.db import DatabaseUnavailable
from viba.store.image_store import StorageError
from viba.studio import shares

log = logging.getLogger(__name__)

HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}
STYLE = (
    "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:2rem;color:#222}"
    "main{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:1rem}"
    "figure{margin:0}img{width:100%;border-radius:6px;background:#eee}"
    "figcaption,footer{color:#666;font-size:.9rem}"
)


def _lang(request: Request) -> str:
    accepted = request.headers.get("accept-language", "").lower()
    first = accepted.split(",")[0].strip()
    return "zh" if first.startswith("zh") else "en"


def _page(title: str, body: str, lang: str, status: int = 200) -> HTMLResponse:
    page = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · Viba Studio</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(page, status_code=status, headers=dict(HEADERS))


def _gone(lang: str) -> HTMLResponse:
    text = i18n.t("share_gone", lang)
    return _page(text, f"<h1>{html.escape(text)}</h1>", lang, status=404)


def _shared(token: str, ip: str | None, agent: str | None) -> shares.Shared | None:
    found = services.services(get_settings())
    return shares.open_link(found.db, token, log_view=True, ip_address=ip, user_agent=agent)


async def share_page(request: Request) -> Response:
    token, lang = request.path_params["token"], _lang(request)
    if not shares.TOKEN_RE.match(token):
        return _gone(lang)
    ip = request.client.host if request.client else None
    try:
        shared = await run_in_threadpool(_shared, token, ip, request.headers.get("user-agent"))
    except DatabaseUnavailable:
        return _page("Viba Studio", html.escape(i18n.t("share_unavailable", lang)), lang, 503)
    if shared is None:
        return _gone(lang)
    title = shared.title or i18n.t(shared.feature or "", lang)
    figures = []
    for n, (view, _key) in enumerate(shared.items, start=1):
        caption = f"{i18n.t(view.type, lang)} · {view.created_at:%Y-%m-%d}"
        figures.append(
            f'<figure><a href="{token}/i/{n}"><img src="{token}/t/{n}" alt="{n}"></a>'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    until = i18n.t("share_until", lang).format(when=f"{shared.expires_at:%Y-%m-%d %H:%M} UTC")
    empty = "" if figures else f"<p>{html.escape(i18n.t('share_empty', lang))}</p>"
    body = (
        f"<h1>{html.escape(title)}</h1>{empty}<main>{''.join(figures)}</main>"
        f"<footer><p>{html.escape(until)}</p></footer>"
    )
    # The page's own address ends with the token: its images are relative to /s/.
    return _page(title, body, lang)


def _image(token: str, place: int, thumb: bool) -> tuple[bytes, str] | None:
    found = services.services(get_settings())
    return shares.image(found.db, found.store, token, place, thumb)


async def share_image(request: Request) -> Response:
    token, kind, place = (request.path_params[k] for k in ("token", "kind", "place"))
    if not shares.TOKEN_RE.match(token) or kind not in ("t", "i") or not place.isdigit():
        return _gone(_lang(request))
    try:
        found = await run_in_threadpool(_image, token, int(place[:6]), kind == "t")
    except (DatabaseUnavailable, StorageError) as exc:
        log.warning("a shared image could not be served: %s", exc)
        return Response("Not available right now.", status_code=503, media_type="text/plain")
    if found is None:
        return _gone(_lang(request))
    data, mime = found
    return Response(data, media_type=mime, headers=dict(HEADERS))  # no-store: revocable


ROUTES = [
    Route("/s/{token}", share_page, methods=["GET", "HEAD"]),
    Route("/s/{token}/{kind}/{place}", share_image, methods=["GET", "HEAD"]),
]
