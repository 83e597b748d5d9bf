"""Shared, I/O-free models: what workflows and activities pass to each other.

Every model here is pydantic and travels through Temporal with
``temporalio.contrib.pydantic.pydantic_data_converter``.
"""
