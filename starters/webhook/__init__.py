"""Gitea webhook receiver: start runs on label events, act on ``/autopilot`` comment commands.

python -m starters.webhook --host 127.0.0.1 --port 8600
"""
