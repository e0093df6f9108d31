"""Pagination with ``maxResults`` and ``nextToken``, as the Step Functions API pages lists.

A token is an opaque string naming the next offset; a token that is not one of ours is
``InvalidToken``. ``maxResults`` 0 or absent means the default page size, 100.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, TypeVar

from stepwell.service.errors import InvalidToken

Item = TypeVar("Item")
DEFAULT_PAGE = 100


def paginate(items: Sequence[Item], request: dict[str, Any]) -> tuple[list[Item], dict[str, str]]:
    size = request.get("maxResults") or DEFAULT_PAGE
    start = _offset(request.get("nextToken"))
    page = list(items[start : start + size])
    if start + size < len(items):
        return page, {"nextToken": _token(start + size)}
    return page, {}


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"stepwell:{offset}".encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        prefix, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix != "stepwell":
            raise ValueError(prefix)
        return int(number)
    except ValueError:
        raise InvalidToken(f"Invalid Token: '{token}'") from None
