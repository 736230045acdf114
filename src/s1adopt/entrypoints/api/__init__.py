"""HTTP entry points (FastAPI): the DUIS endpoints."""
