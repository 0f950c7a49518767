"""docker-compose.yml validates (Debian's docker-compose checks a file without a Docker engine)."""

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is needed to validate docker-compose.yml (apt-get install docker-compose)"
    cmd = [exe, "-f", str(ROOT / "docker-compose.yml"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_compose_file_validates():
    out = compose("config", "-q")
    assert out.returncode == 0, out.stderr
    services = compose("--profile", "gpu", "--profile", "tools", "config", "--services").stdout.split()
    assert set(services) == {"head", "worker", "gpu-worker", "nas", "postgres", "dashboard"}


def test_compose_publishes_every_port_on_loopback_only_and_shares_the_token():
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    published = {name: svc.get("ports", []) for name, svc in doc["services"].items() if svc.get("ports")}
    assert published == {
        "head": ["127.0.0.1:8265:8265"],  # Ray's dashboard
        "dashboard": ["127.0.0.1:8080:8080"],  # evonas's, a service of its own
        "postgres": ["127.0.0.1:5432:5432"],
    }
    for name, svc in doc["services"].items():
        if name == "postgres":
            assert svc["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
            continue
        assert svc["environment"]["RAY_AUTH_MODE"] == "token"
        assert "ray_auth_token" in svc["secrets"]
    for name in ("nas", "dashboard"):  # the search driver and the dashboard use PostgreSQL
        svc = doc["services"][name]
        assert svc["environment"]["EVONAS_DB"].startswith("postgresql+psycopg://evonas@postgres:5432/")
        assert "postgres_password" in svc["secrets"]
        assert "evonas:" not in svc["environment"]["EVONAS_DB"]  # no password in the URL
    gpu = doc["services"]["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"]
