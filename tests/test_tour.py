"""The README's curl session is docs/tour.sh, and it runs: every `curl` line of the README's session is in
the script, which checks the status of each call against a fresh embedded server (issue 12 item 22)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_demo import free_port

ROOT = Path(__file__).resolve().parent.parent


def _readme_session_lines():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## HTTP API"):readme.index("**Production:**")]
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        lines += [line.split("  #")[0].rstrip() for line in block.splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    return lines


def test_every_line_of_the_readme_session_is_in_the_tour():
    script = (ROOT / "docs" / "tour.sh").read_text(encoding="utf-8")
    lines = _readme_session_lines()
    assert sum(line.lstrip().startswith(("curl", "ID=$(curl", "TASK=$(curl", "NEXT=$(curl")) for line in lines) >= 15
    missing = [line for line in lines if line.replace("8000", "$PORT") not in script and line not in script]
    assert not missing, missing


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq") and shutil.which("bash")),
                    reason="the tour needs bash, curl and jq")
def test_the_tour_runs_as_the_readme_says(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "FOLLOWUP_TIMERS")}
    env.update(FOLLOWUP_DATA_DIR=str(tmp_path / "data"), PORT=str(free_port()),
               FOLLOWUP=str(Path(sys.executable).with_name("followup")))
    done = subprocess.run(["bash", str(ROOT / "docs" / "tour.sh")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "every step answered as the README says" in done.stdout
