"""One settings object, read from the environment (and an optional `.env` file)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of Outbound. Unset values give the embedded default: SQLite, in-process broker and bus."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite://outbound.sqlite3",
        description="Tortoise DB URL: sqlite://FILE or postgres://USER@HOST:PORT/DB.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL. Unset: in-process broker and pub/sub (one process does everything).",
    )
    smtp_url: str | None = Field(
        default=None,
        description="smtp://[user:password@]host:port for email steps. Unset: the sandbox mailbox.",
    )
    namespace: str = Field(
        default="outbound",
        description="Prefix of every Redis key and pub/sub channel, so several deployments can share a Redis.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool | None = Field(
        default=None,
        description="Seed a demo workspace on first start and keep it moving. Unset: on for the embedded SQLite"
        " default, off for PostgreSQL (a production database gets a demo only when asked, DEMO=true).",
    )
    demo_speed: float = Field(
        default=1440.0,
        description="Demo clock acceleration for the demo campaign's delays: 1440 turns a day into a minute.",
    )
    embedded_workers: int = Field(
        default=4, description="Worker threads for the in-process broker (embedded mode only)."
    )
    scheduler: bool = Field(
        default=True,
        description="Run the scheduler tick inside the API process. Set false when it runs on its own.",
    )
    lean_executor: bool = Field(
        default=True,
        description="Queries that succeed take the lean executor (schema/fastpath.py); false: graphql-core only.",
    )
    log_level: str = "INFO"
    metrics: bool = Field(
        default=False, description="Serve Prometheus metrics at /metrics (ops.py; README \"Health and metrics\")."
    )
    metrics_token: str | None = Field(
        default=None, description="If set, /metrics also wants `Authorization: Bearer <METRICS_TOKEN>`."
    )

    @model_validator(mode="after")
    def _resolve_demo(self) -> Settings:
        # A forgotten DEMO=false must not seed a demo workspace into a production database.
        if self.demo is None:
            self.demo = not self.is_postgres
        return self

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: broker and bus live inside this process."""
        return self.redis_url is None


@lru_cache
def get_settings() -> Settings:
    return Settings()
