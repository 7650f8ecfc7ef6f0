"""The `ams` command as a user pipes it: a reader that stops early gets no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GMN_UK = Path(__file__).resolve().parents[2] / "shared" / "data" / "gmn-uk-2026-07-12"


@pytest.mark.skipif(not GMN_UK.exists(), reason="shared GMN data not present (its output is large enough to fill the pipe)")
def test_output_piped_into_a_reader_that_stops_early() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ams_actors", "correlate", "--rms", str(GMN_UK), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(16).startswith(b"{")  # like `| head -c 16`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_admin_options_work_after_the_sub_command_too() -> None:
    from ams_actors.cli import build_parser

    parser = build_parser()
    for argv in (["admin", "status", "--json"], ["admin", "--json", "status"]):
        assert parser.parse_args(argv).json is True
    args = parser.parse_args(["admin", "claims", "-c", "other.toml", "--socket", "/run/ams.sock"])
    assert (args.json, args.config, args.socket) == (False, "other.toml", "/run/ams.sock")
    assert parser.parse_args(["admin", "-c", "top.toml", "status"]).config == "top.toml"


def test_every_admin_sub_command_is_described_and_run_lists_the_tasks(capsys: pytest.CaptureFixture[str]) -> None:
    from ams_actors.cli import main
    from ams_actors.commands.admin import TASK_HELP
    from protocols.messages import TASKS

    assert set(TASK_HELP) == set(TASKS)
    for cmd in ("status", "pause", "resume", "run", "reprocess", "claims", "shutdown"):
        with pytest.raises(SystemExit):
            main(["admin", cmd, "--help"])
        out = capsys.readouterr().out
        description = out.split("\n\n")[1]
        assert not description.startswith(("positional", "options")), (cmd, out)
        if cmd == "run":
            for task in TASKS:
                assert f"  {task} " in out and TASK_HELP[task] in out, task


def test_admin_claims_table() -> None:
    from ams_actors.commands.admin import format_claims

    empty = format_claims({"station": "AMS1", "held": [], "seen": []}).splitlines()
    assert empty[0] == "station AMS1  claims held 0  seen 0" and len(empty) == 2
    row = {"event_id": "20260712_221500_ABCD", "status": "solving", "owner": "AMS1", "epoch": 3, "state": "held",
           "revision": 2, "detail": "", "solution_key": None}
    table = format_claims({"station": "AMS1", "held": [row], "seen": [{**row, "owner": "AMS2", "status": "watching"}]})
    lines = table.splitlines()
    assert lines[0] == "station AMS1  claims held 1  seen 1"
    assert lines[2].split() == ["held", "20260712_221500_ABCD", "solving", "AMS1", "3", "held", "2", "-"]
    assert lines[3].split()[:4] == ["seen", "20260712_221500_ABCD", "watching", "AMS2"]


@pytest.mark.parametrize("verb", ["bs", "rvd", "rvms", "fix_days"])
def test_rebuild_belongs_to_proc_index_only(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    from ams_actors.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["proc_index", "--rebuild"]).rebuild is True
    with pytest.raises(SystemExit) as e:
        parser.parse_args([verb, "--rebuild"])
    assert e.value.code == 2 and "unrecognized arguments: --rebuild" in capsys.readouterr().err


def test_readme_migration_list_matches_the_verbs() -> None:
    import re

    from ams_actors.cli import VERBS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    replaced = re.search(r"old pile of cron jobs \(([^)]*)\)", readme)
    assert replaced is not None
    old_jobs = set(re.findall(r"`(\w+)`", replaced.group(1)))
    migration = readme[readme.index("Migrating from cron:"):].split("\n\n")[0]
    named = set(re.findall(r"`ams (\w+)", migration)) - {"admin"}
    assert named == old_jobs, (named, old_jobs)
    assert named <= set(VERBS), named - set(VERBS)
