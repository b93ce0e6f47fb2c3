"""The README's examples are real: its case files load, and .ci/run finds its two commands."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from grader.cases import load_case
from grader.cases.script import make_script
from grader.checks import planned

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_toml_example_in_the_readme_is_a_valid_case(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        path = tmp_path / f"example{i}.toml"
        path.write_text(block, encoding="utf-8")
        script = make_script(load_case(path))
        assert planned(script)


def readme_command(marker: str) -> str:
    """What .ci/run itself extracts from the README for this marker."""
    script = f"source <(sed -n '/^readme_command()/,/^}}/p' .ci/run); readme_command {marker}"
    done = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_ci_reads_the_two_setup_commands_from_the_readme() -> None:
    install, test = readme_command("install"), readme_command("test")
    assert "pip install" in install and install.endswith("grade")
    assert "pytest" in test
    assert install in README and test in README
