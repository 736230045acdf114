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

    # the migration programme
    capacity: str = Field(
        default="IOC=400,MOC=400,FOC=400",
        description="daily migration capacity per cohort, e.g. IOC=400,MOC=400,FOC=400",
    )
    dmin: int = Field(default=100, ge=0, description="the MSM's flat daily allocation per party")
    lead_days: int = Field(
        default=2, ge=0, le=60, description="days ahead an allocation is decided"
    )
    notice_days: int = Field(
        default=2, ge=0, le=60, description="days ahead dormant installations' notices go"
    )
    cutoff_days: int = Field(
        default=1, ge=0, le=60, description="days before its day a schedule stops changing"
    )
    max_attempts: int = Field(default=5, ge=1, le=50, description="the attempt that excludes")
    retry_backoff: str = Field(
        default="1,2,4,8", description="days to wait after the 1st, 2nd, ... transient failure"
    )
    max_exchange_file_bytes: int = Field(default=1024**3, gt=0)

    def capacities(self) -> dict[str, int]:
        """``capacity`` as a mapping; ``ValueError`` names a malformed entry."""
        result: dict[str, int] = {}
        for part in self.capacity.split(","):
            name, _, number = part.strip().partition("=")
            if not name or not number.strip().isdigit():
                raise ValueError(
                    f"S1ADOPT_CAPACITY entry {part.strip()!r} is not COHORT=NUMBER "
                    "(e.g. IOC=400,MOC=400,FOC=400)"
                )
            result[name.strip().upper()] = int(number)
        return result

    def backoff_days(self) -> tuple[int, ...]:
        """``retry_backoff`` as whole days; ``ValueError`` names a malformed entry."""
        try:
            days = tuple(int(p) for p in self.retry_backoff.split(","))
        except ValueError as exc:
            raise ValueError(
                f"S1ADOPT_RETRY_BACKOFF {self.retry_backoff!r} is not a list of days like 1,2,4,8"
            ) from exc
        return days
