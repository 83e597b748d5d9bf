"""The e2e stack's servers (Temporal dev server, local forge, offline model) for the scrape test."""

from tests.e2e.conftest import environments, forge, model_url, temporal

__all__ = ["environments", "forge", "model_url", "temporal"]
