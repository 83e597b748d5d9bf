"""Reading what people with write access said on a pull request since the run last looked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from activities.forge.client import GiteaClient
from activities.forge.gitea_models import Comment, PullReview
from domain.pull_feedback import FeedbackItem, FeedbackLine, PullFeedback, PullFeedbackInput

FEEDBACK_STATES = ("REQUEST_CHANGES", "COMMENT")
COMMAND_PREFIX = "/autopilot"  # commands go to the webhook, not to the implementer
OWN_MARKER = "<!-- autopilot:"  # every comment Autopilot writes carries one

Writers = Callable[[set[str]], Awaitable[set[str]]]


def _said_by_a_person(comment: Comment) -> bool:
    body = comment.body.strip()
    own = any(line.strip().startswith(OWN_MARKER) for line in body.splitlines())
    return bool(body) and not own and not body.startswith(COMMAND_PREFIX)


async def _review_item(
    client: GiteaClient, input: PullFeedbackInput, review: PullReview, author: str
) -> FeedbackItem | None:
    repo, number = input.pull.repo, input.pull.number
    notes = []
    if review.comments_count:
        notes = await client.list_review_comments(repo.owner, repo.name, number, review.id)
    lines = [FeedbackLine(path=n.path, line=n.position, body=n.body) for n in notes]
    if not review.body.strip() and not lines:
        return None
    return FeedbackItem(
        kind="review",
        id=review.id,
        author=author,
        state=review.state,
        body=review.body,
        lines=lines,
    )


async def read_feedback(
    client: GiteaClient, input: PullFeedbackInput, bot: str, writers: Writers
) -> PullFeedback:
    """New reviews (changes requested or commented, with their line notes) and new comments."""
    repo, number = input.pull.repo, input.pull.number
    reviews = await client.list_reviews(repo.owner, repo.name, number)
    comments = await client.list_comments(repo.owner, repo.name, number)
    found = PullFeedback(
        last_review=max([input.after_review, *(r.id for r in reviews)]),
        last_comment=max([input.after_comment, *(c.id for c in comments)]),
    )
    new_reviews = [
        (r, r.user.login)
        for r in reviews
        if r.id > input.after_review and r.state in FEEDBACK_STATES and r.user is not None
    ]
    new_comments = [
        (c, c.user.login)
        for c in comments
        if c.id > input.after_comment and c.user is not None and _said_by_a_person(c)
    ]
    authors = {login for _, login in new_reviews} | {login for _, login in new_comments}
    allowed = await writers({a for a in authors if a.lower() != bot.lower()})
    for review, login in new_reviews:
        item = await _review_item(client, input, review, login) if login in allowed else None
        if item is not None:
            found.items.append(item)
    found.items += [
        FeedbackItem(kind="comment", id=comment.id, author=login, body=comment.body)
        for comment, login in new_comments
        if login in allowed
    ]
    return found
