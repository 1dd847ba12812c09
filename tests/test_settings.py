"""Settings from the environment: one reader (engine/config.py `env_number`) for every number a variable
holds, so a value typed wrong stops the start with the variable's name instead of becoming a default or a
bare "could not convert string to float"."""
import pytest

from engine.background.timers import TimerPolicy
from engine.config import load_settings
from engine.customers.import_jobs import ImportPolicy
from workers.config import WorkerConfig


def test_numbers_set_in_the_environment_reach_their_settings():
    env = {"FOLLOWUP_TIMER_LEASE": "7.5", "FOLLOWUP_TIMER_BATCH": "20", "FOLLOWUP_TIMER_BACKOFF": "0, 1.5,3",
           "FOLLOWUP_SCHEDULER_TICK": "0.5", "FOLLOWUP_CLAIM_LIMIT": "100", "FOLLOWUP_IMPORT_ATTEMPTS": "4",
           "FOLLOWUP_SCRIPT_SECONDS": "2", "FOLLOWUP_IMPORT_BACKGROUND_ROWS": ""}
    config = WorkerConfig.from_env(env)
    assert (config.timers.lease, config.timers.batch_size, config.timers.backoff) == (7.5, 20, (0.0, 1.5, 3.0))
    assert config.timers.max_attempts == TimerPolicy().max_attempts      # unset: the default
    assert (config.tick, config.claim_limit, config.sweep_every) == (0.5, 100, WorkerConfig().sweep_every)
    assert ImportPolicy.from_env(env).max_attempts == 4
    limits = load_settings(env).limits
    assert limits.script_seconds == 2.0 and limits.import_background_rows == 2_000  # empty: the default


@pytest.mark.parametrize("reader, name, value, words", [
    (WorkerConfig.from_env, "FOLLOWUP_TIMER_LEASE", "15s", "FOLLOWUP_TIMER_LEASE must be a number, not '15s'"),
    (WorkerConfig.from_env, "FOLLOWUP_CLAIM_LIMIT", "2.5", "FOLLOWUP_CLAIM_LIMIT must be a whole number, not '2.5'"),
    (WorkerConfig.from_env, "FOLLOWUP_TIMER_BACKOFF", "2,ten", "FOLLOWUP_TIMER_BACKOFF must be a number, not 'ten'"),
    (WorkerConfig.from_env, "FOLLOWUP_SCHEDULER_TICK", "0", "FOLLOWUP_SCHEDULER_TICK must be greater than 0"),
    (ImportPolicy.from_env, "FOLLOWUP_IMPORT_ATTEMPTS", "-1", "FOLLOWUP_IMPORT_ATTEMPTS must be greater than 0"),
    (load_settings, "FOLLOWUP_MAX_STEPS", "many", "FOLLOWUP_MAX_STEPS must be a whole number, not 'many'"),
])
def test_a_number_typed_wrong_is_refused_naming_its_variable(reader, name, value, words):
    with pytest.raises(ValueError) as refused:
        reader({name: value})
    assert words in str(refused.value)


def test_the_command_line_says_which_setting_is_wrong_in_one_line(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from followup.cli import main

    monkeypatch.setenv("FOLLOWUP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FOLLOWUP_CLAIM_LIMIT", "2.5")
    result = CliRunner().invoke(main, ["timers", "run"])
    assert result.exit_code == 1
    assert result.stderr == "error: FOLLOWUP_CLAIM_LIMIT must be a whole number, not '2.5'\n"
