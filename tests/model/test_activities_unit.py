"""Model activities against a scripted server: schemas sent, checks beyond the schema."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.model.activities import ModelActivities
from activities.model.openai_compat import OpenAICompatibleProvider
from domain import names
from domain.change import EditSet
from domain.model import DraftEditsInput, ReviewChangeInput
from domain.review import ReviewVerdict
from tests.model.samples import DIFF, ISSUE, PLAN, TEST_RUN
from tests.model.stub_openai import StubServer, completion

MakeProvider = Callable[..., OpenAICompatibleProvider]

EDITS_INPUT = DraftEditsInput(
    purpose="task", issue=ISSUE, plan=PLAN, task=PLAN.tasks[0], files={"app/parser.py": "x\n"}
)


async def test_draft_edits_reasks_when_a_write_has_no_content(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    no_content = {"summary": "s", "commit_message": "m", "edits": [{"path": "app/parser.py"}]}
    good = {
        "summary": "s",
        "commit_message": "Keep the tail",
        "edits": [{"path": "app/parser.py", "content": "y\n"}],
    }
    stub.script(completion(json.dumps(no_content)), completion(json.dumps(good)))
    activities = ModelActivities(make_provider(), max_reasks=1)

    out = await ActivityEnvironment().run(activities.draft_edits, EDITS_INPUT)

    assert out.edits == EditSet.model_validate(good)
    assert out.usage.calls == 2
    sent = stub.requests[0].body["response_format"]["json_schema"]
    assert (sent["name"], sent["schema"]) == ("edit_set", EditSet.model_json_schema())
    assert "needs the whole file" in stub.requests[1].body["messages"][-1]["content"]


async def test_review_requesting_changes_without_any_is_invalid(
    stub: StubServer, make_provider: MakeProvider
) -> None:
    vague = {"verdict": "request_changes", "summary": "not great", "requested_changes": []}
    stub.script(*[completion(json.dumps(vague)) for _ in range(2)])
    activities = ModelActivities(make_provider(), max_reasks=1)
    review = ReviewChangeInput(issue=ISSUE, plan=PLAN, diff=DIFF, test_run=TEST_RUN)

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.review_change, review)

    assert caught.value.type == names.ERR_INVALID_MODEL_OUTPUT
    assert caught.value.message.startswith("review:")
    assert "requested_changes" in caught.value.message
    assert len(stub.requests) == 2
    sent = stub.requests[0].body["response_format"]["json_schema"]
    assert (sent["name"], sent["schema"]) == ("review_verdict", ReviewVerdict.model_json_schema())


async def test_fix_edits_are_logged_in_the_verify_stage(
    stub: StubServer, make_provider: MakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    good = {
        "summary": "s",
        "commit_message": "m",
        "edits": [{"path": "app/parser.py", "content": "y\n"}],
    }
    stub.script(completion(json.dumps(good)), completion(json.dumps(good)))
    activities = ModelActivities(make_provider(), max_reasks=1)
    fix = EDITS_INPUT.model_copy(update={"purpose": "fix"})
    with caplog.at_level("INFO"):
        await ActivityEnvironment().run(activities.draft_edits, fix)
        await ActivityEnvironment().run(activities.draft_edits, EDITS_INPUT)
    answered = [r for r in caplog.records if r.getMessage().startswith("model answered")]
    assert [getattr(r, "stage", None) for r in answered] == ["verify", "implement"]
