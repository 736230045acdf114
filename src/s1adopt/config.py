"""Settings, from the environment (prefix ``S1ADOPT_``) or command-line options."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service can be configured with. Secrets are never printed."""

    model_config = SettingsConfigDict(env_prefix="S1ADOPT_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///s1adopt.db",
        description="SQLAlchemy URL; default a SQLite file in the working directory",
    )
    key_dir: Path = Field(
        default=Path(".s1adopt/keys"),
        description="where the vault key and the migration transport key live (created if absent)",
    )
    vault_key: str | None = Field(
        default=None, description="base64 vault key; overrides key_dir/vault.key", repr=False
    )
    report_dir: Path = Field(default=Path("s1adopt-reports"))
    eligible_products: Path | None = Field(
        default=None, description="JSON Eligible Product Combinations list; default built-in"
    )
    max_migration_file_bytes: int = Field(default=4 * 1024**3, gt=0)
    concurrency: int = Field(default=64, gt=0, le=10_000, description="connections per head end")
    chunk_size: int = Field(default=500, gt=0, le=100_000, description="installations per chunk")
    workers: int = Field(
        default=1, gt=0, le=64, description="migration worker processes (1: in this process)"
    )
    chunks_in_flight: int = Field(
        default=3, gt=0, le=64, description="chunks worked on at once by one process"
    )
    headend_timeout: float = Field(default=10.0, gt=0)
    headend_retries: int = Field(default=3, ge=0, le=20)
