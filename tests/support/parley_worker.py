"""A real `parley worker` in a subprocess, for tests of the brokers behind QUEUE_URL."""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.parley_server import JWT_SECRET, PARLEY


@dataclass
class ParleyWorker:
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no chance to acknowledge or clean up anything."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def terminate(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=timeout)


def start_worker(workdir: Path, name: str, env: dict[str, str]) -> ParleyWorker:
    """Start `parley worker` on the SQLite database `parley serve` made in workdir."""
    environment = {
        **os.environ,
        "ENVIRONMENT": "staging",
        "DATABASE_URL": f"sqlite:///{workdir / 'serve.db'}",
        "JWT_SECRET": JWT_SECRET,
        "MEDIA_DIR": str(workdir / "media"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        **env,
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = workdir / f"worker-{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(PARLEY), "worker"],
            cwd=workdir,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return ParleyWorker(process, log_path)
