"""Gitea access: a typed async client and the forge activities built on it."""
