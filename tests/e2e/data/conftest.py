"""Repositories the e2e tests push to the forge are data here, not part of this suite: their
tests run in their own environment, in the sandbox (some fail on purpose before a fix)."""

collect_ignore_glob = ["*/repo"]
