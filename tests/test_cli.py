"""CLI smoke tests: every subcommand has --help, unknown flags are errors, the jobs write what
they promise."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import pytest

from affordkit.cli import main
from affordkit.envs import ENVS


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["envs", "--help"],
        ["envs", "list", "--help"],
        ["envs", "show", "--help"],
        ["quickstart", "--help"],
    ],
)
def test_help(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 0
    assert "usage" in capsys.readouterr().out.lower()


@pytest.mark.parametrize(
    "args",
    [
        ["quickstart", "--episodes", "2", "--bogus", "1"],
        ["envs", "show", "Push", "--outt", "x.png"],
        ["nope"],
    ],
)
def test_unknown_flags_and_commands_are_errors(args: list[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2


def test_envs_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["envs", "list"]) == 0
    out = capsys.readouterr().out
    for entry in ENVS.values():
        assert entry.name in out and entry.gym_id in out


def test_envs_show_writes_a_picture(tmp_path: Path) -> None:
    out = tmp_path / "push.png"
    assert main(["envs", "show", "Push", "--out", str(out), "--resets", "2"]) == 0
    image = iio.imread(out)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300


def test_unknown_env_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["envs", "show", "Pusher", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "unknown environment 'Pusher'" in err and "Push" in err


def test_quickstart_writes_a_run_folder(tmp_path: Path) -> None:
    assert main(["quickstart", "--env", "Push", "--episodes", "3", "--runs-dir", str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    assert run.name.startswith("quickstart-Push-")
    config = json.loads((run / "config.json").read_text())
    assert config["seed"] == 0 and config["method"] == "quickstart" and config["env"] == "Push"
    assert "affordkit_version" in config and "git_commit" in config
    assert config["config"]["episodes"] == 3
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 50 and {
        "step",
        "seconds",
        "random/success_rate",
        "scripted/object_distance",
    } <= set(rows[0])
    assert float(rows[-1]["scripted/success_rate"]) == 1.0  # the solver reaches every Push goal
    assert list(run.glob("events.out.tfevents.*"))
    assert (run / "media" / "env.png").exists() and (run / "media" / "random_episodes.png").exists()
    assert "| scripted | 3 |" in (run / "report.md").read_text()
    assert (run / "random_episodes.npz").exists()


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "affordkit", "envs", "list"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "Push" in done.stdout
