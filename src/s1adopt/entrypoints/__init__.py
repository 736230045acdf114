"""Entry points: the CLI (and later the HTTP API and the web pages)."""
