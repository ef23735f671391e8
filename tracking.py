"""The links in our emails: the click tracker `GET /t/{token}` and the unsubscribe page `/u/{token}`.

Both tokens are signed (mail/tokens.py) with the key of domain/mailkeys.py; one that does not verify is a
404 and nothing else, so the tracker is never an open redirect and nobody unsubscribes someone else.

- `GET /t/{token}`: 302 to the original URL, and EMAIL_CLICKED for the lead once per link (engine/inbound.
  record_click: counters, live pushes, webhooks follow). A click on a lead the event cannot apply to still
  redirects. `HEAD` is answered the same and counts nothing (link checkers and previews send it).
- `GET /u/{token}`: a small page, no external assets, whose button POSTs. A GET alone changes nothing: mail
  scanners follow links.
- `POST /u/{token}`: unsubscribes at once (also RFC 8058's one-click POST, body
  `List-Unsubscribe=One-Click`, which mail clients send without showing the page): the address joins the
  suppression list, the lead finishes FINISHED / UNSUBSCRIBED (engine/inbound.unsubscribe). Idempotent.
"""

from __future__ import annotations

import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from domain import mailkeys
from engine.inbound import record_click, unsubscribe
from mail.tokens import verify_token, verify_unsubscribe_token

log = logging.getLogger("outbound.tracking")

#: Nothing of ours is cached or indexed, and the page that follows a click learns nothing of the token.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2937}"
    "button{font:inherit;padding:.5rem 1.25rem;border:0;border-radius:.375rem;background:#1f2937;color:#fff;"
    "cursor:pointer}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width,initial-scale=1"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(text, status_code=status, headers=HEADERS)


def _not_found() -> HTMLResponse:
    return _page("Link not found", "<p>This link is not valid. It may have been copied incompletely.</p>", 404)


def _key() -> bytes | None:
    return mailkeys.current().signing_key


def _lead_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 20 else None


async def click(request: Request) -> Response:
    key = _key()
    link = verify_token(key, request.path_params["token"]) if key is not None else None
    lead_id = _lead_id(link.lead_id) if link is not None else None
    if link is None or lead_id is None:
        return _not_found()
    if request.method == "GET":
        try:
            await record_click(lead_id, link.step_id, link.index, link.url)
        except Exception:  # the reader still gets where the link goes; the log says what failed
            log.exception("recording a click of lead %s failed", lead_id)
    return RedirectResponse(link.url, status_code=302, headers=HEADERS)


def _unsubscribe_lead(request: Request) -> int | None:
    key = _key()
    raw = verify_unsubscribe_token(key, request.path_params["token"]) if key is not None else None
    return _lead_id(raw) if raw is not None else None


async def unsubscribe_page(request: Request) -> Response:
    if _unsubscribe_lead(request) is None:
        return _not_found()
    # The form posts to this same URL (action omitted): the token never leaves the address bar.
    return _page(
        "Unsubscribe",
        "<p>Stop receiving these emails? You will not be contacted again from this sender's workspace.</p>"
        '<form method="post"><button type="submit">Unsubscribe</button></form>',
    )


async def unsubscribe_now(request: Request) -> Response:
    lead_id = _unsubscribe_lead(request)
    if lead_id is None or not await unsubscribe(lead_id):
        return _not_found()
    return _page("You are unsubscribed", "<p>You will not receive these emails again.</p>")


ROUTES = [
    Route("/t/{token}", click, methods=["GET", "HEAD"]),
    Route("/u/{token}", unsubscribe_page, methods=["GET"]),
    Route("/u/{token}", unsubscribe_now, methods=["POST"]),
]
