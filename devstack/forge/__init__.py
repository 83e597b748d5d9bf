"""A local, Gitea 1.25.4-compatible forge for the demo and the tests.

A real HTTP server on loopback (aiohttp) over real bare git repositories and a small sqlite
store. Run it with ``python -m devstack.forge``; tests use ``devstack.forge.testing``.
"""
