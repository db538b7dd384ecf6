"""Media over HTTP: uploads (direct and resumable), status, and the processed files.

Routes (``Authorization: Bearer <session token>`` on all but the files)::

    POST  /media                  the whole file as the body → 202 {media_id, status: "queued"}
    POST  /media/uploads          Upload-Length: N → 201 {upload_id, offset: 0}; Location: the upload
    HEAD  /media/uploads/{id}     → Upload-Offset / Upload-Length: where to continue
    GET   /media/uploads/{id}     the same as JSON
    PATCH /media/uploads/{id}     Upload-Offset: k, body = bytes from k on (PUT is accepted too)
                                  → 204 with the new Upload-Offset, or 202 {media_id, ...} on the last byte
    GET   /media/{id}             the owner's view: state, progress, reason, variants
    GET   /media/files/{key}      a processed file; public, immutable, byte ranges (206)

The resumable protocol is a small subset of tus: a client that loses its connection asks for the
offset and sends the rest. Bytes are written to the staging file as they arrive, so whatever reached
us before a disconnect counts. Reads of the offset and writes take the upload's lock, so the offset a
client learns is final (a dead request still writing finishes first).

The two routes that receive bodies are served at the ASGI level, in front of Quart: Quart reads a
request body into a buffer as fast as the network delivers it, whatever the handler consumes, so a
large upload onto a slow disk would pile up in memory. Here the body is read only as fast as it is
written: hypercorn's bounded queue then pushes back to TCP. Processed files are public: their keys
are 256-bit content hashes of metadata-free renditions, unguessable until shared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
from quart import Response, jsonify, request
from quart_trio import QuartTrio

from actors.media.intake import Refused
from actors.media.service import FILES_URL_PREFIX
from protocol.errors import ProtocolError
from stores.blobs import BlobMissing
from stores.media import MediaRecord
from viora.runtime import Runtime

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {".webp": "image/webp", ".jpg": "image/jpeg", ".mp4": "video/mp4"}
_UPLOAD_PATH = re.compile(r"^/media/uploads/([0-9a-fA-F-]{36})$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte range ``[start, stop)`` a ``Range`` header asks for, or ``None`` for the whole file.

    One range only (a multi-range or malformed header is ignored, as RFC 9110 allows); a range
    that starts past the end raises :class:`RangeNotSatisfiable` (416).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # a suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size
    start = int(first)
    stop = size if last == "" else min(size, int(last) + 1)
    if start >= size or stop <= start:
        raise RangeNotSatisfiable
    return start, stop


def register_media_routes(app: QuartTrio, runtime: Runtime) -> None:
    """Add the media routes to ``app`` (the body-receiving ones in front of it, see above)."""
    media = runtime.media
    intake = media.intake

    async def signed_in_user(authorization: str) -> int:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Refused(401, "unauthenticated", "send Authorization: Bearer <session token>")
        try:
            return (await runtime.services.accounts.resume(token)).user.id
        except ProtocolError as exc:
            raise Refused(401, str(exc.code), exc.message) from None

    async def own_upload(user_id: int, upload_id: str) -> tuple[int, int, int | None]:
        """(length, offset, media_id) of the user's upload; 404 for anyone else's."""
        upload = await media.store.get_upload(upload_id)
        if upload is None or upload.owner_id != user_id:
            raise Refused(404, "not_found", "no such upload")
        if upload.media_id is not None:
            return upload.length, upload.length, upload.media_id
        path = await intake.staging_path(upload.id)
        try:
            offset = (await trio.Path(path).stat()).st_size
        except FileNotFoundError:
            offset = 0
        return upload.length, offset, None

    # ------------------------------------------------------------------ Quart routes

    @app.errorhandler(Refused)
    async def refused(exc: Refused) -> Response:
        response = jsonify({"error": {"code": exc.code, "message": exc.message}})
        response.status_code = exc.status
        response.headers.update(exc.headers)
        return response

    @app.post("/media/uploads")
    async def create_upload() -> Any:
        user_id = await signed_in_user(request.headers.get("Authorization", ""))
        try:
            length = int(request.headers.get("Upload-Length", ""))
        except ValueError:
            raise Refused(400, "bad_request", "send Upload-Length: <total bytes>") from None
        if length <= 0:
            raise Refused(400, "bad_request", "Upload-Length must be positive")
        if length > intake.max_bytes:
            raise Refused(413, "too_large", f"the limit is {intake.max_bytes} bytes")
        upload = await media.store.create_upload(user_id, length)
        location = f"/media/uploads/{upload.id}"
        body = {"upload_id": upload.id, "offset": 0, "length": length, "location": location}
        return jsonify(body), 201, {"Location": location, "Upload-Offset": "0"}

    @app.route("/media/uploads/<upload_id>", methods=["GET", "HEAD"])
    async def upload_offset(upload_id: str) -> Any:
        user_id = await signed_in_user(request.headers.get("Authorization", ""))
        async with intake.upload_locks.hold(upload_id):
            length, offset, media_id = await own_upload(user_id, upload_id)
        headers = {"Upload-Offset": str(offset), "Upload-Length": str(length), "Cache-Control": "no-store"}
        body = {"upload_id": upload_id, "offset": offset, "length": length, "media_id": media_id}
        return jsonify(body), 200, headers

    @app.get("/media/<int:media_id>")
    async def media_status(media_id: int) -> Any:
        user_id = await signed_in_user(request.headers.get("Authorization", ""))
        record = await media.store.get_media(media_id)
        if record is None or record.owner_id != user_id:
            raise Refused(404, "not_found", "no such media")
        return jsonify(_status(record)), 200, {"Cache-Control": "no-store"}

    @app.route(f"{FILES_URL_PREFIX}/<key>", methods=["GET", "HEAD"])
    async def media_file(key: str) -> Any:
        content_type = CONTENT_TYPES.get(Path(key).suffix)
        try:
            if content_type is None:
                raise BlobMissing(key)
            size = await media.blobs.public.size(key)
        except BlobMissing:
            raise Refused(404, "not_found", "no such file") from None
        etag = f'"{Path(key).stem}"'
        headers = {
            "Cache-Control": IMMUTABLE,
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "X-Content-Type-Options": "nosniff",
        }
        if etag in request.headers.get("If-None-Match", ""):
            return Response(b"", 304, headers)
        try:
            span = parse_range(request.headers.get("Range"), size)
        except RangeNotSatisfiable:
            return Response(b"", 416, {**headers, "Content-Range": f"bytes */{size}"})
        start, stop = span or (0, size)
        headers["Content-Length"] = str(stop - start)
        if span is not None:
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        status = 206 if span is not None else 200
        if request.method == "HEAD":
            response = Response(b"", status, headers, content_type=content_type)
            response.headers["Content-Length"] = headers["Content-Length"]  # Quart set it from b""
            return response
        chunks = media.blobs.public.read_range(key, start, stop)
        return Response(chunks, status, headers, content_type=content_type)

    # ------------------------------------------------------------------ body-receiving routes (ASGI)

    async def post_media(scope: Scope, receive: Receive) -> tuple[int, dict[str, Any], dict[str, str]]:
        user_id = await signed_in_user(_header(scope, "authorization"))
        declared = _header(scope, "content-length")
        if declared.isdigit() and int(declared) > intake.max_bytes:
            raise Refused(413, "too_large", f"the limit is {intake.max_bytes} bytes")
        staged = await intake.staging_path()
        try:
            complete = await _receive_into(receive, staged, 0, intake.max_bytes, append=False)
        except BaseException:
            await trio.Path(staged).unlink(missing_ok=True)
            raise
        if not complete:
            await trio.Path(staged).unlink(missing_ok=True)
            raise _Disconnected
        record = await intake.accept(user_id, staged)
        return 202, {"media_id": record.id, "status": str(record.state)}, {}

    async def patch_upload(
        scope: Scope, receive: Receive, upload_id: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        user_id = await signed_in_user(_header(scope, "authorization"))
        async with intake.upload_locks.hold(upload_id):
            length, offset, media_id = await own_upload(user_id, upload_id)
            if media_id is not None:
                return 200, {"media_id": media_id, "status": "queued", "offset": length}, {}
            if _header(scope, "upload-offset") != str(offset):
                raise Refused(
                    409, "offset_mismatch", f"the upload is at byte {offset}", {"Upload-Offset": str(offset)}
                )
            staged = await intake.staging_path(upload_id)
            if not await _receive_into(receive, staged, offset, length, append=True):
                raise _Disconnected  # what arrived is kept: the client asks for the offset and goes on
            offset = (await trio.Path(staged).stat()).st_size
            if offset < length:
                return 204, {}, {"Upload-Offset": str(offset)}
            record = await intake.accept(user_id, staged, upload_id=upload_id)
        body = {"media_id": record.id, "status": str(record.state), "offset": length}
        return 202, body, {"Upload-Offset": str(length)}

    quart_app = app.asgi_app

    async def media_asgi(scope: Scope, receive: Receive, send: Send) -> None:
        handler: Callable[[], Awaitable[tuple[int, dict[str, Any], dict[str, str]]]] | None = None
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if method == "POST" and path == "/media":
                handler = lambda: post_media(scope, receive)  # noqa: E731
            elif method in ("PATCH", "PUT") and (match := _UPLOAD_PATH.match(path)):
                handler = lambda: patch_upload(scope, receive, match.group(1).lower())  # noqa: E731
        if handler is None:
            await quart_app(scope, receive, send)
            return
        try:
            status, body, headers = await handler()
        except Refused as exc:
            status, body, headers = (
                exc.status,
                {"error": {"code": exc.code, "message": exc.message}},
                exc.headers,
            )
        except _Disconnected:
            return  # nobody to answer
        await _send_json(send, status, body, headers)

    app.asgi_app = media_asgi  # type: ignore[method-assign]


class _Disconnected(Exception):
    """The client went away before the body ended."""


def _status(record: MediaRecord) -> dict[str, Any]:
    return {
        "media_id": record.id,
        "kind": str(record.kind),
        "state": str(record.state),
        "progress": record.progress,
        "reason": record.reason,
        "variants": record.variants,
        "original": {"bytes": record.original_bytes, "sha256": record.original_key},
    }


def _header(scope: Scope, name: str) -> str:
    wanted = name.encode()
    for key, value in scope["headers"]:
        if key.lower() == wanted:
            return value.decode("latin-1")
    return ""


async def _receive_into(receive: Receive, path: Path, offset: int, limit: int, *, append: bool) -> bool:
    """Write the request body to ``path`` as it arrives; True if it ended, False on a disconnect.

    Reading only after each write completes is the back-pressure: hypercorn stops reading the
    socket while its small queue towards us is full. Bytes beyond ``limit`` are refused with 413.
    """
    written = offset
    async with await trio.open_file(path, "ab" if append else "wb") as f:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            body = message.get("body", b"")
            if written + len(body) > limit:
                raise Refused(413, "too_large", f"the limit for this upload is {limit} bytes")
            if body:
                await f.write(body)
                written += len(body)
            if not message.get("more_body", False):
                return True


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode() if body or status != 204 else b""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if payload:
        raw_headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})
