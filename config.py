"""One settings object, read from the environment (and an optional `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from limits import parse as parse_rate
from pydantic import Field, field_validator, model_validator
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
    webhook_allow_private: bool = Field(
        default=False,
        description="Webhooks may point at loopback and private addresses (a receiver on the same network);"
        " link-local, CGNAT, multicast and cloud metadata addresses stay refused.",
    )
    webhook_concurrency_per_receiver: int = Field(
        default=4,
        ge=1,
        description="Deliveries to one webhook in flight at once (claimed and not yet answered): a slow receiver"
        " holds at most this many of the webhook workers' threads (domain/webhook_delivery.py).",
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text: `time LEVEL logger: message` lines; json: one JSON object per line (logs.py).",
    )

    # Limits every client meets (README.md, "Limits"). A query is measured before it runs (schema/cost.py).
    max_query_depth: int = Field(
        default=6, ge=1, description="Deepest nesting of fields with selections (the Campaign View needs 4)."
    )
    max_query_aliases: int = Field(default=50, ge=0, description="Aliases in one document.")
    max_query_tokens: int = Field(
        default=5000, ge=100, description="Tokens in one document (GraphiQL's introspection: ~200)."
    )
    max_query_objects: int = Field(
        default=5000,
        ge=1,
        description="Objects a query may ask for, estimated from `first` (or its default) and list sizes, multiplied"
        " through nested lists.",
    )
    query_list_size: int = Field(
        default=50, ge=1, description="What a list without `first` counts as in the object estimate (series: 1000)."
    )
    query_cache_bytes: int = Field(
        default=32 * 1024 * 1024, ge=0, description="Estimated bytes the parse+validation cache may keep in all."
    )
    query_cache_max_document: int = Field(
        default=16 * 1024, ge=0, description="Characters of the largest document the caches keep (bigger: never kept)."
    )
    # Size, time and rate (server_limits.py).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="Largest request body: 413 over it.")
    max_header_bytes: int = Field(default=64 * 1024, ge=1024, description="Largest request head: 431 over it.")
    header_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a connection has to send a request's headers (slowloris)."
    )
    timeout_keep_alive: int = Field(default=5, ge=1, description="Seconds an idle keep-alive connection stays open.")
    max_connections: int = Field(
        default=4096, ge=1, description="Connections and tasks one API process serves at once (503 over it)."
    )
    rate_limit: str = Field(
        default="50/second",
        description="Each API key's sustained request rate, in `limits` notation (`50/second`, `3000/minute`).",
    )
    rate_limit_burst: int = Field(
        default=300, ge=1, description="Requests a key may send at once; over any window of burst/rate, at most this."
    )
    ws_connections_per_key: int = Field(
        default=256, ge=1, description="Open websockets per API key and API process (closed 4429 over it)."
    )

    @field_validator("rate_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        parse_rate(value)  # a ValueError naming the string: the process does not start with a rate it cannot read
        return value

    secret_key: str | None = Field(
        default=None,
        description="Encrypts mailbox passwords and signs tracking/unsubscribe links (16+ random characters)."
        " Unset: on SQLite, one is generated into FILE.secret-key (mode 0600) beside the database; on"
        " PostgreSQL, mailboxes are refused and emails carry no signed links until it is set.",
    )
    public_url: str | None = Field(
        default=None,
        description="The server's address as a lead's mail client reaches it (click and unsubscribe links)."
        " Unset: http://HOST:PORT.",
    )
    mailbox_sync_seconds: float = Field(
        default=60.0, description="How often each identity's inbox is read (the demo reads every few seconds)."
    )
    metrics: bool = Field(
        default=False, description="Serve Prometheus metrics at /metrics (ops.py; README \"Health and metrics\")."
    )
    metrics_token: str | None = Field(
        default=None, description="If set, /metrics also wants `Authorization: Bearer <METRICS_TOKEN>`."
    )
    bounce_guard_percent: float = Field(
        default=5.0,
        ge=0,
        le=100,
        description="An identity's email steps stop when more than this share of its recent emails hard-bounced.",
    )
    bounce_guard_window: int = Field(default=100, ge=1, description="How many of its last emails the guard looks at.")
    bounce_guard_min_sends: int = Field(
        default=20, ge=1, description="The guard judges nothing until an identity has sent at least this many."
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
    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: broker and bus live inside this process."""
        return self.redis_url is None


@lru_cache
def get_settings() -> Settings:
    return Settings()
