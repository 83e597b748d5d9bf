"""What the scripted model-API stubs share: a scripted reply, a recorded request, the answer."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


async def answer(reply: Reply) -> web.Response:
    """Send ``reply`` as JSON after its delay; a string body is sent as is (e.g. garbage)."""
    if reply.delay_seconds:
        await asyncio.sleep(reply.delay_seconds)
    text = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
    return web.Response(
        status=reply.status, text=text, content_type="application/json", headers=reply.headers
    )
