"""Worker and scheduler settings, from the environment (FOLLOWUP_* variables; see README)."""
import os
from dataclasses import dataclass, field

from engine.background.outbox import OutboxPolicy
from engine.config import env_numbers
from engine.background.timers import TimerPolicy

TIMER_QUEUE = "followup-timers"
OUTBOX_QUEUE = "followup-outbox"


@dataclass(frozen=True)
class WorkerConfig:
    timers: TimerPolicy = field(default_factory=TimerPolicy)
    outbox: OutboxPolicy = field(default_factory=OutboxPolicy)
    tick: float = 0.2             # seconds between scheduler ticks when nothing is due
    sweep_every: float = 1.0      # seconds between sweeps of expired leases and launcher checks
    claim_limit: int = 2000       # timers claimed per tick (a full tick is followed at once by another)
    heartbeat_ttl: float = 10.0   # a running job's liveness key lives this long without a refresh

    @classmethod
    def from_env(cls, environ=None):
        env = os.environ if environ is None else environ
        return cls(timers=TimerPolicy.from_env(env), **env_numbers(env, {
            "tick": ("FOLLOWUP_SCHEDULER_TICK", float),
            "sweep_every": ("FOLLOWUP_SWEEP_EVERY", float),
            "claim_limit": ("FOLLOWUP_CLAIM_LIMIT", int),
            "heartbeat_ttl": ("FOLLOWUP_JOB_HEARTBEAT", float)}))
