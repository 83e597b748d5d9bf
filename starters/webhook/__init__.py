"""Gitea webhook receiver: start runs on label events, act on ``/autopilot`` comment commands.

The trigger label starts an issue run; ``autopilot:<name>`` starts the cross-repo change
``<name>`` from ``cross_repo_workflows``.

python -m starters.webhook --host 127.0.0.1 --port 8600
"""
