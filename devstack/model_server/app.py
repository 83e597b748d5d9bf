"""The replay server's HTTP side: OpenAI chat completions and Anthropic Messages.

``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages`` (Anthropic; ``anthropic-version``
and ``max_tokens`` required, as there) take the same answers:

* a structured request (``response_format.json_schema.name``, or a forced tool) is answered by
  the first matching structured rule of the scenario, else by the gold patches (plan, review);
* a tool-calling request (``tools`` offered, none forced) by the first matching trajectory rule,
  else by gold-patch play for the issue its brief names.

Every answer is cut to the request's output limit (see ``answer``) and counted with the same
``ceil(len / 4)`` token counter as the prompt.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from devstack.model_server.answer import Answer, ToolUse, anthropic_message, openai_completion
from devstack.model_server.conversation import (
    Conversation,
    forced_tool,
    read_anthropic,
    read_openai,
    tool_names,
)
from devstack.model_server.gold import GoldPlayer
from devstack.model_server.scenario import Rule, Scenario

log = logging.getLogger("devstack.model_server")


@dataclass(frozen=True)
class Replay:
    scenario: Scenario | None = None
    gold: GoldPlayer | None = None

    @property
    def model(self) -> str:
        return self.scenario.model if self.scenario else "replay-gold"


@dataclass(frozen=True)
class Problem:
    status: int
    message: str
    code: str | None = None
    param: str | None = None


REPLAY_KEY = web.AppKey("replay", Replay)


def create_app(scenario: Scenario | None = None, gold: GoldPlayer | None = None) -> web.Application:
    app = web.Application()
    app[REPLAY_KEY] = Replay(scenario, gold)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/messages", messages)
    app.router.add_get("/v1/models", list_models)
    return app


async def list_models(request: web.Request) -> web.Response:
    model = request.app[REPLAY_KEY].model
    return web.json_response(
        {
            "object": "list",
            "data": [{"id": model, "object": "model", "created": 0, "owned_by": "autopilot"}],
        }
    )


async def chat_completions(request: web.Request) -> web.Response:
    replay = request.app[REPLAY_KEY]
    body = await _body(request)
    if not isinstance(body, dict):
        return openai_error(400, "request body is not JSON")
    if not isinstance(body.get("messages"), list):
        return openai_error(400, "request needs a 'messages' list")
    limit = openai_limit(body)
    if isinstance(limit, Problem):
        return openai_error(limit.status, limit.message, limit.code, limit.param)
    conversation = read_openai(body)
    decided = decide(replay, body, conversation, limit)
    if isinstance(decided, Problem):
        return openai_error(decided.status, decided.message)
    if isinstance(decided, Rule):
        return rule_error(decided, anthropic=False)
    model = str(body.get("model") or replay.model)
    prompt_tokens = conversation.prompt_tokens()
    return web.json_response(openai_completion(decided, limit, model, prompt_tokens))


async def messages(request: web.Request) -> web.Response:
    replay = request.app[REPLAY_KEY]
    if "anthropic-version" not in request.headers:
        return anthropic_error(400, "anthropic-version: header is required")
    body = await _body(request)
    if not isinstance(body, dict):
        return anthropic_error(400, "request body is not JSON")
    if not isinstance(body.get("messages"), list):
        return anthropic_error(400, "messages: Field required")
    limit = body.get("max_tokens")
    if limit is None:
        return anthropic_error(400, "max_tokens: Field required")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        return anthropic_error(400, "max_tokens: Input should be greater than or equal to 1")
    conversation = read_anthropic(body)
    decided = decide(replay, body, conversation, limit)
    if isinstance(decided, Problem):
        return anthropic_error(decided.status, decided.message)
    if isinstance(decided, Rule):
        return rule_error(decided, anthropic=True)
    model = str(body.get("model") or replay.model)
    input_tokens = conversation.prompt_tokens()
    return web.json_response(anthropic_message(decided, limit, model, input_tokens))


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def openai_limit(body: dict[str, Any]) -> int | Problem | None:
    """The output limit, or why it is refused (in OpenAI's words, code and param)."""
    given = [k for k in ("max_completion_tokens", "max_tokens") if body.get(k) is not None]
    if len(given) == 2:
        why = "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported."
        return Problem(400, why, "invalid_parameter_combination", "max_tokens")
    if not given:
        return None
    value = body[given[0]]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        why = (
            f"Invalid '{given[0]}': integer below minimum value. "
            f"Expected a value >= 1, but got {value!r} instead."
        )
        return Problem(400, why, "integer_below_min_value", given[0])
    return value


def decide(
    replay: Replay, body: dict[str, Any], conversation: Conversation, limit: int | None
) -> Answer | Problem | Rule:
    """The answer to a request: an Answer, a Problem (400), or a scenario rule's error reply."""
    schema_name, via_tool = requested_schema(replay, body)
    if schema_name is not None:
        return structured(replay, schema_name, via_tool, conversation)
    if conversation.tools:
        return agent_turn(replay, conversation, limit)
    why = "request names no answer schema (response_format.json_schema.name or a tool)"
    return Problem(400, why)


def requested_schema(replay: Replay, body: dict[str, Any]) -> tuple[str | None, bool]:
    """The answer schema's name and whether it was asked for as a tool call."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        json_schema = response_format.get("json_schema")
        if isinstance(json_schema, dict) and isinstance(json_schema.get("name"), str):
            return json_schema["name"], False
    forced = forced_tool(body)
    if forced is not None:
        return forced, True
    names = tool_names(body)
    # One tool, not forced, that a structured rule answers: the older way of asking for one.
    if len(names) == 1 and replay.scenario is not None and replay.scenario.answers(names[0]):
        return names[0], True
    return None, False


def structured(
    replay: Replay, schema_name: str, via_tool: bool, conversation: Conversation
) -> Answer | Problem | Rule:
    text = conversation.text
    found = replay.scenario.match(schema_name, text) if replay.scenario else None
    content: str | None = None
    finish_reason = "stop"
    if found is not None:
        index, rule = found
        log.info("schema %r answered by rule %d %s", schema_name, index, rule.note)
        if rule.status != 200:
            return rule
        content = rule.reply if isinstance(rule.reply, str) else json.dumps(rule.reply)
        finish_reason = rule.finish_reason
    elif replay.gold is not None:
        reply = replay.gold.structured(schema_name, text)
        if reply is not None:
            log.info("schema %r answered from the gold patches", schema_name)
            content = json.dumps(reply)
    if content is None:
        log.info("no rule for schema %r", schema_name)
        return Problem(400, f"no scenario rule matched the request for schema {schema_name!r}")
    if via_tool:
        calls = [ToolUse(schema_name, content)]
        return Answer(calls=calls, finish_reason=finish_reason, turn=conversation.turn)
    return Answer(text=content, finish_reason=finish_reason, turn=conversation.turn)


def agent_turn(replay: Replay, conversation: Conversation, limit: int | None) -> Answer | Problem:
    brief = conversation.brief_text
    found = replay.scenario.match_trajectory(brief) if replay.scenario else None
    if found is not None:
        index, rule = found
        assert rule.trajectory is not None
        turn = conversation.turn
        if turn >= len(rule.trajectory):
            return Problem(
                400,
                f"the trajectory of scenario rule {index} has {len(rule.trajectory)} steps; "
                f"the conversation is at turn {turn}",
            )
        step = rule.trajectory[turn].pick(conversation.last_results_text)
        if step is None:
            return Problem(400, f"no choice of rule {index}, turn {turn} matched the last results")
        log.info("turn %d answered by trajectory rule %d %s", turn, index, rule.note)
        calls = [ToolUse(c.name, conversation.adapt(c.name, c.arguments)) for c in step.tool_calls]
        return Answer(text=step.text, calls=calls, turn=turn)
    patch = replay.gold.find(brief) if replay.gold else None
    if replay.gold is not None and patch is not None:
        log.info("turn %d played from the gold patch for %r", conversation.turn, patch.title)
        return replay.gold.turn(patch, conversation, limit)
    log.info("no trajectory rule or gold patch for a tool-calling request")
    return Problem(400, "no trajectory rule or gold patch matched the tool-calling request")


def rule_error(rule: Rule, *, anthropic: bool) -> web.Response:
    if rule.error_body is not None:
        body: Any = rule.error_body
    elif anthropic:
        error = {"type": "api_error", "message": f"scenario error reply ({rule.status})"}
        body = {"type": "error", "error": error}
    else:
        body = {"error": {"message": f"scenario error reply ({rule.status})", "type": "error"}}
    if isinstance(body, str):
        return web.Response(status=rule.status, text=body, headers=rule.headers)
    return web.json_response(body, status=rule.status, headers=rule.headers)


def openai_error(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> web.Response:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return web.json_response({"error": error}, status=status)


def anthropic_error(status: int, message: str) -> web.Response:
    error = {"type": "invalid_request_error", "message": message}
    return web.json_response({"type": "error", "error": error}, status=status)
