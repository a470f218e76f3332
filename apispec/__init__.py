"""The OpenAPI description of MarketStream's ingest and query APIs (`docs/openapi.json`).

`python -m apispec` writes it; `python -m apispec --check` fails when the file is stale.
"""

from apispec.document import build_document, render, with_servers

__all__ = ["build_document", "render", "with_servers"]
