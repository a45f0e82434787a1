"""docker/ is kept correct by reading (no Docker engine here): what can be checked is."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker/compose.yml").read_text())
DOCKERFILE = (ROOT / "docker/Dockerfile").read_text()


def test_compose_has_the_production_topology_with_health_checks():
    services = COMPOSE["services"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert name in services, name
        assert "healthcheck" in services[name], f"{name} has no health check"
    # worker must be scalable: no fixed container name, no host port.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        assert env["PORTAL_PROFILE"] == "production"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
        assert env["CACHE_URL"].startswith("redis://redis:6379/")


def test_commands_point_at_modules_that_exist():
    services = COMPOSE["services"]
    targets = [services["web"]["command"], services["sandbox"]["command"]]
    cmd_line = re.search(r"^CMD (.*)$", DOCKERFILE, re.M).group(1)
    targets.append(yaml.safe_load(cmd_line))
    for command in targets:
        app = next(a for a in command if ":" in a and not a.startswith("python:"))
        module, _, attr = app.partition(":")
        assert hasattr(importlib.import_module(module), attr), app
        for arg in command:
            if arg.startswith("python:"):
                importlib.import_module(arg.removeprefix("python:"))
    for name in ("worker", "beat"):
        assert services[name]["command"][:3] == ["celery", "-A", "portal"]


def test_dockerfile_installs_pinned_requirements_and_runs_unprivileged():
    assert "COPY requirements.txt" in DOCKERFILE
    assert "pip install -r requirements.txt" in DOCKERFILE
    assert re.search(r"^USER (?!root)\w+", DOCKERFILE, re.M)
    assert "collectstatic" in DOCKERFILE
    assert "HEALTHCHECK" in DOCKERFILE
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert "==" in line, f"unpinned requirement: {line}"


def test_every_setting_the_compose_file_needs_is_documented():
    documented = set(
        re.findall(r"^# ([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker/compose.yml").read_text()))
    assert used <= documented, used - documented


def test_the_sandbox_is_published_on_the_loopback_only():
    """Its console and control API drive the sandbox: never on every interface."""
    for mapping in COMPOSE["services"]["sandbox"]["ports"]:
        assert str(mapping).startswith("127.0.0.1:"), mapping
