"""Read a WSGI request's body whole, whether it came with a Content-Length or chunked.

Middleware that buffers the body (the journal, the crash points) must not read it by
``CONTENT_LENGTH`` alone: clients that stream uploads (pyarrow's and DuckDB's S3 writers) send
``Transfer-Encoding: chunked`` with no length, and werkzeug then marks the input terminated so it can be
read to its end. Reading 0 bytes there stored empty objects.
"""

from __future__ import annotations

import io
from typing import Any


def buffer_request_body(environ: dict[str, Any]) -> bytes:
    """The body, read once; ``environ`` is rewritten so the next app reads the same bytes with a length."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        body = environ["wsgi.input"].read(length)
    elif environ.get("wsgi.input_terminated"):
        body = environ["wsgi.input"].read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    if body or "CONTENT_LENGTH" in environ:
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("wsgi.input_terminated", None)
    return body
