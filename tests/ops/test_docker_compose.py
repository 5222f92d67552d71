"""What a user relies on in docker-compose.yml and docker/Dockerfile.

Plain parsing: no Django, no database, no Docker engine. The one test that needs
the `docker compose` CLI skips when it is not installed.
"""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"

APP_SERVICES = ("migrate", "web", "worker-score", "worker-default", "beat")
LONG_RUNNING_APP_SERVICES = ("web", "worker-score", "worker-default", "beat")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _services() -> dict:
    return _compose()["services"]


def _argv(service: dict) -> list[str]:
    command = service.get("command")
    assert command, "service has no command"
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):  # short form means service_started
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _option(argv: list[str], *names: str) -> str | None:
    """Value of a CLI option given as `--name value` or `--name=value`."""
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _celery_queues(argv: list[str]) -> set[str]:
    value = _option(argv, "-Q", "--queues")
    assert value, f"celery worker without -Q: {argv}"
    return {queue.strip() for queue in value.split(",") if queue.strip()}


def _dockerfile_stages() -> set[str]:
    pattern = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*\S+\s+AS\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
    return {name.lower() for name in pattern.findall(DOCKERFILE.read_text())}


def test_compose_file_has_no_obsolete_version_key():
    assert "version" not in _compose()


def test_all_services_present():
    expected = {
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker-score",
        "worker-default",
        "beat",
    }
    assert expected <= set(_services())


def test_web_runs_daphne_on_the_asgi_app_and_publishes_8000():
    web = _services()["web"]
    argv = _argv(web)
    assert argv[0] == "daphne"
    assert "oversight.asgi:application" in argv
    assert _option(argv, "-b", "--bind") == "0.0.0.0"
    assert _option(argv, "-p", "--port") == "8000"
    published = {str(port).split(":")[-1].split("/")[0] for port in web.get("ports", []) if ":" in str(port)}
    assert "8000" in published, web.get("ports")


def test_worker_score_consumes_only_score_one_task_at_a_time():
    argv = _argv(_services()["worker-score"])
    assert argv[:4] == ["celery", "-A", "oversight", "worker"]
    assert _celery_queues(argv) == {"score"}
    assert _option(argv, "-c", "--concurrency") == "1"
    assert _option(argv, "--prefetch-multiplier") == "1"


def test_worker_score_reserves_an_nvidia_gpu():
    devices = _services()["worker-score"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(
        device.get("driver") == "nvidia"
        and str(device.get("count")) in {"1", "all"}
        and "gpu" in device.get("capabilities", [])
        for device in devices
    ), devices


def test_worker_default_consumes_default():
    argv = _argv(_services()["worker-default"])
    assert argv[:4] == ["celery", "-A", "oversight", "worker"]
    assert "default" in _celery_queues(argv)
    assert "score" not in _celery_queues(argv)


def test_only_the_score_worker_uses_the_torch_image():
    services = _services()
    assert services["worker-score"]["build"]["target"] == "worker"
    for name in ("migrate", "web", "worker-default", "beat"):
        assert services[name]["build"]["target"] == "web", name


def test_beat_runs_celery_beat():
    argv = _argv(_services()["beat"])
    assert argv[:4] == ["celery", "-A", "oversight", "beat"]


def _migrate_steps() -> list[list[str]]:
    """The migrate service's commands: one argv, or the `&&`-joined steps of an `sh -c` script."""
    argv = _argv(_services()["migrate"])
    if argv[:2] == ["sh", "-c"]:
        return [shlex.split(step) for step in argv[2].split("&&")]
    return [argv]


def _url_parts(url: str) -> tuple[str, str, str]:
    """postgres://USER:PASSWORD@postgres:5432/DB → (USER, PASSWORD, DB)."""
    user_pass, db = re.fullmatch(r"postgres(?:ql)?://([^@]+)@postgres:5432/(\w+)", url).groups()
    user, password = user_pass.split(":", 1)
    return user, password, db


def test_migrate_runs_migrations_after_postgres_is_healthy():
    migrate = _services()["migrate"]
    steps = _migrate_steps()
    assert steps[0][:3] == ["python", "manage.py", "migrate"]
    assert _depends_on(migrate).get("postgres") == "service_healthy"
    assert str(migrate.get("restart", "no")) in {"no", "False", "false"}


def test_migrate_runs_as_the_owner_then_sets_up_the_app_role():
    """Migrations (and the grants) run as the tables' owner; the app role is granted after every migrate."""
    services = _services()
    owner = _environment(services["postgres"])["POSTGRES_USER"]
    migrate_env = _environment(services["migrate"])
    steps = _migrate_steps()
    grant = next(step for step in steps if step[:3] == ["python", "manage.py", "db_app_role"])
    assert steps.index(grant) > 0  # after migrate
    assert _url_parts(migrate_env["DATABASE_URL"])[0] == owner
    role, password_var = grant[3], _option(grant, "--password-env")
    app_user, app_password, _ = _url_parts(_environment(services["web"])["DATABASE_URL"])
    assert role == app_user != owner
    assert migrate_env[password_var] == app_password


@pytest.mark.parametrize("name", LONG_RUNNING_APP_SERVICES)
def test_web_and_workers_connect_as_the_app_role_that_owns_no_tables(name):
    services = _services()
    owner = _environment(services["postgres"])["POSTGRES_USER"]
    grant = next(step for step in _migrate_steps() if step[:3] == ["python", "manage.py", "db_app_role"])
    env = _environment(services[name])
    assert _url_parts(env["DATABASE_URL"])[0] == grant[3] != owner, name
    assert "APP_DATABASE_PASSWORD" not in env  # only migrate, which sets the role up, needs it


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_point_at_compose_postgres_and_redis(name):
    env = _environment(_services()[name])
    assert re.fullmatch(r"postgres(ql)?://[^@/]+@postgres:5432/\w+", env.get("DATABASE_URL", "")), env
    assert re.fullmatch(r"rediss?://redis:6379(/\d+)?", env.get("REDIS_URL", "")), env


def test_postgres_credentials_match_the_owners_database_url():
    services = _services()
    pg_env = _environment(services["postgres"])
    user, password, db = _url_parts(_environment(services["migrate"])["DATABASE_URL"])
    assert pg_env["POSTGRES_USER"] == user
    assert pg_env["POSTGRES_PASSWORD"] == password
    assert pg_env["POSTGRES_DB"] == db
    assert _url_parts(_environment(services["web"])["DATABASE_URL"])[2] == db


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_run_with_debug_off_and_a_required_secret_key(name):
    env = _environment(_services()[name])
    assert env.get("DEBUG", "").strip().lower() in {"false", "0", "no", "off"}
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]*\}", env.get("SECRET_KEY", "")), env.get("SECRET_KEY")
    assert "ALLOWED_HOSTS" in env


@pytest.mark.parametrize("name", LONG_RUNNING_APP_SERVICES)
def test_app_services_wait_for_healthy_backends_and_migrations(name):
    deps = _depends_on(_services()[name])
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("redis") == "service_healthy"
    assert deps.get("migrate") == "service_completed_successfully"


@pytest.mark.parametrize(("name", "probe"), [("postgres", "pg_isready"), ("redis", "redis-cli")])
def test_backends_have_healthchecks(name, probe):
    service = _services()[name]
    test = service["healthcheck"]["test"]
    text = test if isinstance(test, str) else " ".join(test)
    assert probe in text
    assert any(str(volume).endswith(("/var/lib/postgresql/data", "/data")) for volume in service.get("volumes", []))


def test_postgres_data_lives_in_a_named_volume():
    compose = _compose()
    volumes = compose["services"]["postgres"]["volumes"]
    source = next(str(v).split(":")[0] for v in volumes if str(v).endswith("/var/lib/postgresql/data"))
    assert source in (compose.get("volumes") or {})


def test_every_build_target_is_a_dockerfile_stage():
    stages = _dockerfile_stages()
    for name, service in _services().items():
        build = service.get("build")
        if not build:
            continue
        assert isinstance(build, dict), name
        assert (ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
        assert build.get("target", "").lower() in stages, (
            name,
            build.get("target"),
            stages,
        )


def test_dockerfile_web_stage_runs_daphne_as_non_root():
    text = "\n".join(line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#"))
    web = re.split(r"^\s*FROM\s", text, flags=re.IGNORECASE | re.MULTILINE)
    web_stage = next(stage for stage in web if re.match(r"\S+\s+AS\s+web\s*$", stage, re.IGNORECASE | re.MULTILINE))
    assert re.search(r"^\s*USER\s+(?!root\b|0\b)\S+", web_stage, re.MULTILINE)
    assert re.search(r"^\s*EXPOSE\s+8000\b", web_stage, re.MULTILINE)
    assert "collectstatic" in web_stage
    assert "oversight.asgi:application" in web_stage
    assert "torch" not in web_stage


def _docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "compose", "version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@pytest.mark.skipif(
    not _docker_compose_available(),
    reason="the `docker compose` CLI plugin is not installed",
)
def test_docker_compose_config_is_valid():
    env = {**os.environ, "SECRET_KEY": "test-only-secret-key"}
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_snapshot_builder_server_and_trainer_share_one_media_volume_at_media_root():
    """Snapshots are files in the default storage (FileSystemStorage at MEDIA_ROOT): the worker that builds them,
    the web that serves downloads and the worker that trains from them must see the same folder."""
    from django.conf import settings as django_settings
    from django.core.files.storage import FileSystemStorage, default_storage

    assert isinstance(default_storage, FileSystemStorage)
    assert default_storage.location == str(Path(django_settings.MEDIA_ROOT).resolve())
    compose = _compose()
    assert "media" in compose["volumes"]
    for name in ("web", "worker-default", "worker-score"):
        service = compose["services"][name]
        media_root = _environment(service)["MEDIA_ROOT"]
        assert f"media:{media_root}" in service.get("volumes", []), name
    assert "mkdir -p var/media" in DOCKERFILE.read_text().split("FROM base AS worker")[1]
