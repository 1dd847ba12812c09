"""Settings read from the environment, with the embedded defaults used when a variable is unset."""
import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    data_dir: Path
    timezone: ZoneInfo

    @property
    def embedded(self) -> bool:
        """True when timers run in-process because no Redis is configured."""
        return not self.redis_url


def load_settings(environ=None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("FOLLOWUP_DATA_DIR") or "data").resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'followup.db'}"
    return Settings(
        database_url=database_url,
        redis_url=env.get("REDIS_URL") or None,
        data_dir=data_dir,
        timezone=ZoneInfo(env.get("FOLLOWUP_TIMEZONE") or "Asia/Shanghai"),
    )
