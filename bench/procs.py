"""Child processes of a benchmark run: started in their own process group, pinned with
taskset, measured through /proc, and always stopped (even on Ctrl-C)."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpus: str | None, argv: Sequence[str]) -> list[str]:
    """Prefix argv with `taskset -c cpus` (when pinning is asked for and possible)."""
    if cpus and shutil.which("taskset"):
        return ["taskset", "-c", cpus, *argv]
    return list(argv)


class Registry:
    """Every process this run started, so that one `stop_all()` ends them all."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(list(argv), start_new_session=True, **kwargs)  # type: ignore[call-overload]
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 8.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it lingers."""
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        # Workers of a multi-process server live in the same group: make sure none remains.
        _signal_group(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait(timeout=5)
        if proc in self._procs:
            self._procs.remove(proc)

    def forget(self, proc: subprocess.Popen[bytes]) -> None:
        """Drop a process that has been waited for."""
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self._procs)):
            try:
                self.stop(proc, grace=5.0)
            except Exception as exc:  # keep stopping the others
                print(f"could not stop process {proc.pid}: {exc}")


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def wait4(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, float]:
    """Wait for a child, returning (exit status, CPU seconds it used); kill it on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            _signal_group(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return -9, usage.ru_utime + usage.ru_stime
        time.sleep(0.05)


@dataclass
class Server:
    """One HTTP server under test (Parley or the baseline)."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    workers: int
    cpus: str | None
    log_path: Path
    served: int = 0  # requests the load generator sent it, for the soak checkpoints
    worker_pids: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def find_workers(self) -> list[int]:
        """The worker processes: the server itself with one worker, else its spawned children."""
        if self.workers == 1:
            return [self.proc.pid]
        pids = []
        for child in _children(self.proc.pid):
            cmdline = _read(f"/proc/{child}/cmdline").replace("\0", " ")
            if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
                pids.append(child)
        return pids

    def memory(self) -> list[dict[str, int]]:
        """VmRSS and VmHWM (peak) in kB for each worker."""
        return [_memory(pid) | {"pid": pid} for pid in self.worker_pids]

    def settle(self, timeout: float = 3.0) -> None:
        """Wait until the server is idle: requests abandoned by the last run are still running."""
        deadline = time.monotonic() + timeout
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.cpu_seconds()
            if now - before < 0.01:  # under 10% of a core for 100 ms
                return
            before = now

    def cpu_seconds(self) -> float:
        """User+system CPU of the server and its workers so far."""
        pids = {self.proc.pid, *self.worker_pids}
        return sum(_cpu(pid) for pid in pids)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = _read(str(task / "children"))
        found.extend(int(p) for p in text.split())
    return found


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _memory(pid: int) -> dict[str, int]:
    values = {"vmrss_kb": 0, "vmhwm_kb": 0}
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            values["vmrss_kb"] = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            values["vmhwm_kb"] = int(line.split()[1])
    return values


def _cpu(pid: int) -> float:
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wait_ready(server: Server, timeout: float = 60.0) -> None:
    """Wait until the server answers HTTP and every worker process exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited early; see {server.log_path}:\n{_tail(server.log_path)}"
            )
        if _answers(server.base_url + "/health/live"):
            pids = server.find_workers()
            if len(pids) >= server.workers:
                server.worker_pids = pids[: server.workers]
                # A worker answers only once it has imported the app: give late ones a moment.
                time.sleep(1.0 if server.workers > 1 else 0.2)
                return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready after {timeout}s; see {server.log_path}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(_read(str(path)).splitlines()[-lines:])


def load_average() -> float:
    """The 1-minute load average: other people's test suites share these cores."""
    return float(_read("/proc/loadavg").split()[0] or 0)


def cpu_times() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine since boot. Busy counts every process,
    the kernel and steal; stolen is steal alone: time this machine's CPUs wanted to run and
    the hypervisor gave to other guests."""
    fields = [int(v) for v in _read("/proc/stat").split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields[:8]) - idle) / tick, fields[7] / tick
