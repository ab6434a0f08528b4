"""No Docker engine runs here, so check what can be checked: the compose file and Dockerfile
parse, and agree with the settings, the package and each other."""

from __future__ import annotations

import re
import tomllib

import yaml

from app.config import PROJECT_ROOT, Settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())


def test_app_waits_for_a_healthy_postgres_16() -> None:
    db, app = COMPOSE["services"]["db"], COMPOSE["services"]["app"]
    assert db["image"] == "postgres:16"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["depends_on"]["db"]["condition"] == "service_healthy"


def test_app_environment_names_real_settings() -> None:
    environment = COMPOSE["services"]["app"]["environment"]
    fields = {f"TEXTFLIX_{name.upper()}" for name in Settings.model_fields} | {"DATABASE_URL"}
    assert set(environment) <= fields, set(environment) - fields
    db_env = COMPOSE["services"]["db"]["environment"]
    url = environment["DATABASE_URL"]
    assert url == (
        f"postgresql+psycopg://{db_env['POSTGRES_USER']}:{db_env['POSTGRES_PASSWORD']}"
        f"@db:5432/{db_env['POSTGRES_DB']}"
    )
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    assert settings.database_url == url


def test_models_and_data_are_volumes_where_the_settings_point() -> None:
    app = COMPOSE["services"]["app"]
    mounts = {re.search(r":(/[^:]+)(?::r[ow])?$", volume)[1] for volume in app["volumes"]}
    assert app["environment"]["TEXTFLIX_MODELS_DIR"] in mounts
    assert app["environment"]["TEXTFLIX_DATA_DIR"] in mounts
    assert "8000:8000" in app["ports"]


def test_dockerfile_installs_the_pinned_torch_and_runs_the_cli() -> None:
    torch_pin = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch"))
    assert f'"{torch_pin}"' in DOCKERFILE
    command = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
    assert command is not None
    assert yaml.safe_load(command.group(1))[0] in PYPROJECT["project"]["scripts"]
    for directory in ("app", "migrations", "templates", "static"):
        assert re.search(rf"^COPY {directory} ", DOCKERFILE, re.MULTILINE), directory


def test_workers_score_the_apps_database_with_the_apps_models() -> None:
    worker, app = COMPOSE["services"]["worker"], COMPOSE["services"]["app"]
    fields = {f"TEXTFLIX_{name.upper()}" for name in Settings.model_fields} | {"DATABASE_URL"}
    assert worker["command"] == ["textflix", "worker"]
    assert worker["command"][0] in PYPROJECT["project"]["scripts"]
    assert set(worker["environment"]) <= fields, set(worker["environment"]) - fields
    assert worker["environment"]["DATABASE_URL"] == app["environment"]["DATABASE_URL"]
    models = worker["environment"]["TEXTFLIX_MODELS_DIR"]
    assert models == app["environment"]["TEXTFLIX_MODELS_DIR"]
    assert any(volume.split(":")[1] == models for volume in worker["volumes"])
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"
