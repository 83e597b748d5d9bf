"""An OpenAI-compatible chat-completions server that replays a scenario's answers."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from aiohttp import web

from devstack.model_server.scenario import Rule, Scenario

log = logging.getLogger("devstack.model_server")

SCENARIO_KEY = web.AppKey("scenario", Scenario)


def create_app(scenario: Scenario) -> web.Application:
    app = web.Application()
    app[SCENARIO_KEY] = scenario
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", list_models)
    return app


async def list_models(request: web.Request) -> web.Response:
    model = request.app[SCENARIO_KEY].model
    return web.json_response(
        {
            "object": "list",
            "data": [{"id": model, "object": "model", "created": 0, "owned_by": "autopilot"}],
        }
    )


async def chat_completions(request: web.Request) -> web.Response:
    scenario = request.app[SCENARIO_KEY]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return openai_error(400, "request body is not JSON")
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return openai_error(400, "request needs a 'messages' list")
    schema_name, via_tool = requested_schema(body)
    if schema_name is None:
        return openai_error(
            400, "request names no answer schema (response_format.json_schema.name or a tool)"
        )
    text = messages_text(body["messages"])
    found = scenario.match(schema_name, text)
    if found is None:
        log.info("no rule for schema %r", schema_name)
        return openai_error(400, f"no scenario rule matched the request for schema {schema_name!r}")
    index, rule = found
    log.info("schema %r answered by rule %d %s", schema_name, index, rule.note)
    if rule.status != 200:
        return rule_error(rule)
    content = rule.reply if isinstance(rule.reply, str) else json.dumps(rule.reply)
    model = str(body.get("model") or scenario.model)
    return web.json_response(
        completion(model, content, rule, text, tool=schema_name if via_tool else None)
    )


def requested_schema(body: dict[str, Any]) -> tuple[str | None, bool]:
    """The answer schema's name and whether it was asked for as a tool call."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        json_schema = response_format.get("json_schema")
        if isinstance(json_schema, dict) and isinstance(json_schema.get("name"), str):
            return json_schema["name"], False
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        if isinstance(name, str):
            return name, True
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
            name = tool["function"].get("name")
            if isinstance(name, str):
                return name, True
    return None, False


def messages_text(messages: list[Any]) -> str:
    """All message contents joined, including text parts of multi-part contents."""
    texts: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
    return "\n".join(texts)


def completion(
    model: str, content: str, rule: Rule, prompt: str, tool: str | None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    finish_reason = rule.finish_reason
    if tool is not None:
        call = {
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {"name": tool, "arguments": content},
        }
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish_reason = "tool_calls" if finish_reason == "stop" else finish_reason
    # Token counts are estimates (about four characters per token), enough for budgets and demos.
    prompt_tokens = max(1, len(prompt) // 4)
    completion_tokens = max(1, len(content) // 4)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def rule_error(rule: Rule) -> web.Response:
    if rule.error_body is None:
        body: Any = {"error": {"message": f"scenario error reply ({rule.status})", "type": "error"}}
    else:
        body = rule.error_body
    if isinstance(body, str):
        return web.Response(status=rule.status, text=body, headers=rule.headers)
    return web.json_response(body, status=rule.status, headers=rule.headers)


def openai_error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "invalid_request_error", "code": None}},
        status=status,
    )
