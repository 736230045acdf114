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

    # scale-out: Celery workers on RabbitMQ, PostgreSQL as the shared store
    broker_url: str | None = Field(
        default=None,
        description="amqp:// URL of RabbitMQ; when set, migrate hands its work to `s1adopt "
        "worker` processes (which share the database, so use PostgreSQL)",
        repr=False,
    )
    work_queue: str = Field(
        default="s1adopt.work",
        pattern=r"^[A-Za-z0-9._-]{1,200}$",
        description="the broker's queue of migration work (one per cluster)",
    )
    task_chunk_size: int = Field(
        default=100, gt=0, le=10_000, description="installations per Celery task"
    )
    worker_concurrency: int = Field(
        default=4, gt=0, le=256, description="chunks one `s1adopt worker` works on at once"
    )
    claim_ttl: float = Field(
        default=30.0, ge=3, le=3600, description="seconds a dead worker's work stays held"
    )

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

    # the DUIS gateway
    dsp_key: Path | None = Field(
        default=None,
        description="the DSP's signing key (PKCS#8 DER or PEM); default KEY_DIR/dsp.key",
    )
    dsp_cert: Path | None = Field(
        default=None, description="the DSP's certificate (PEM); default KEY_DIR/dsp.pem"
    )
    dsp_eui: str = Field(default="90-B3-D5-1F-30-00-00-02", description="the DSP's EUI-64")
    duis_schema_dir: Path | None = Field(
        default=None, description="a folder of the official DUIS V5.4 schemas to validate against"
    )
    headend_url: str | None = Field(
        default=None, description="control address of the head ends (device requests)"
    )
    s1sp_key: Path | None = Field(
        default=None,
        description="the S1SP's signing key (PKCS#8 DER or PEM); default KEY_DIR/s1sp.key",
    )
    s1sp_cert: Path | None = Field(
        default=None, description="the S1SP's certificate (PEM); default KEY_DIR/s1sp.pem"
    )
    s1sp_eui: str = Field(default="90-B3-D5-1F-30-00-00-03", description="the S1SP's EUI-64")
    dco_eui: str = Field(default="90-B3-D5-1F-30-00-00-04", description="the DCO's EUI-64")
    device_deadline: float = Field(
        default=45.0, gt=0, le=3600, description="seconds from a command's due time to its answer"
    )
    device_in_flight: int = Field(
        default=64, gt=0, le=10_000, description="commands going at once per head end"
    )
    delivery_attempts: int = Field(
        default=20, gt=0, le=1000, description="tries before a response is dead-lettered"
    )
    delivery_max_backoff: float = Field(default=60.0, gt=0, le=86_400)
    future_days: int = Field(
        default=30, gt=0, le=400, description="how far ahead a request may be future-dated"
    )
    dco_interruptions_per_hour: int = Field(
        default=50, ge=0, description="supply interruptions a user may send in an hour (DCO)"
    )
    gateway_host: str = Field(default="127.0.0.1")
    gateway_port: int = Field(default=8079, gt=0, lt=65536)
    max_request_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    anomaly_window_seconds: int = Field(default=60, gt=0)
    anomaly_thresholds: str = Field(
        default="*=60000",
        description="requests per user and SRV within the window, e.g. 8.2=100000,*=60000",
    )

    def thresholds(self) -> dict[str, int]:
        """``anomaly_thresholds`` as a mapping; ``ValueError`` names a malformed entry."""
        return _pairs(self.anomaly_thresholds, "S1ADOPT_ANOMALY_THRESHOLDS", "8.2=100000,*=60000")

    def capacities(self) -> dict[str, int]:
        """``capacity`` as a mapping; ``ValueError`` names a malformed entry."""
        return {
            name.upper(): n
            for name, n in _pairs(
                self.capacity, "S1ADOPT_CAPACITY", "IOC=400,MOC=400,FOC=400"
            ).items()
        }

    def backoff_days(self) -> tuple[int, ...]:
        """``retry_backoff`` as whole days; ``ValueError`` names a malformed entry."""
        try:
            days = tuple(int(p) for p in self.retry_backoff.split(","))
        except ValueError as exc:
            raise ValueError(
                f"S1ADOPT_RETRY_BACKOFF {self.retry_backoff!r} is not a list of days like 1,2,4,8"
            ) from exc
        return days


def _pairs(text: str, setting: str, example: str) -> dict[str, int]:
    """``NAME=NUMBER,...`` as a mapping; ``ValueError`` names a malformed entry."""
    result: dict[str, int] = {}
    for part in text.split(","):
        name, _, number = part.strip().partition("=")
        if not name.strip() or not number.strip().isdigit():
            raise ValueError(
                f"{setting} entry {part.strip()!r} is not NAME=NUMBER (e.g. {example})"
            )
        result[name.strip()] = int(number)
    return result
