"""How long and how hard each profile loads: `standard` for figures, `quick` for a smoke run."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    duration: int  # seconds of one measured wrk run
    warmup: int  # seconds of load thrown away before the measured runs of a server
    rounds: int  # baseline/Parley alternations per endpoint (medians are reported)
    connections: int  # concurrent connections for throughput runs
    deep_duration: int  # seconds per deep-page run
    login_duration: int
    contention_duration: int  # seconds of each run, alone and beside the logins
    contention_rounds: int  # alone/beside alternations (medians are reported)
    soak_checkpoints: tuple[int, int]  # requests served when RSS is read
    soak_seconds: int  # the soak stops here even when its checkpoints are not reached
    soak_databases: tuple[str, ...]  # where the RSS soak runs
    scaling: bool  # also measure 2 workers against 1
    scaling_rounds: int  # rounds of the 2-vs-1 runs, each stack in turn within a round
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    logins: int = 20  # logins to time for the login throughput (sets that run's length)


STANDARD = Profile(
    name="standard",
    duration=3,
    warmup=1,
    rounds=2,
    connections=16,
    deep_duration=2,
    login_duration=6,
    contention_duration=10,
    contention_rounds=3,
    soak_checkpoints=(50_000, 100_000),
    soak_seconds=180,
    soak_databases=("sqlite",),
    scaling=True,
    scaling_rounds=4,
)
QUICK = Profile(
    name="quick",
    duration=2,
    warmup=1,
    rounds=1,
    connections=16,
    deep_duration=2,
    login_duration=3,
    contention_duration=2,
    contention_rounds=1,
    soak_checkpoints=(5_000, 10_000),
    soak_seconds=20,
    soak_databases=("sqlite",),
    scaling=False,
    scaling_rounds=1,
    databases=("sqlite",),
    logins=6,
)
PROFILES = {p.name: p for p in (STANDARD, QUICK)}
