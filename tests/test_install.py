"""A light station install: `pip install .` brings only what a station runs; the rest comes with an extra.

The "not installed" cases run a real `ams` process in which the optional package cannot be imported
(``sys.modules[name] = None`` is how Python itself marks a module as unavailable), as on a station.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _project() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements: list[str]) -> set[str]:
    return {r.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in requirements}


def test_station_dependencies_leave_out_the_simulator_server_and_plots() -> None:
    project = _project()
    runtime = _names(project["dependencies"])
    assert not runtime & {"moto", "flask", "matplotlib", "aiofiles", "dask", "distributed"}, runtime
    extras = project["optional-dependencies"]
    assert "moto" in _names(extras["sim"])
    assert "matplotlib" in _names(extras["plots"])
    assert "dask" in _names(extras["archive"])
    assert any(r.startswith("ams-actors[") and "sim" in r for r in extras["test"]), extras["test"]


def _ams_without(blocked: tuple[str, ...], *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "from ams_actors.cli import main\n"
        f"raise SystemExit(main({list(argv)!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_every_module_imports_without_the_optional_packages(tmp_path: Path) -> None:
    code = (
        "import sys, pkgutil, importlib\n"
        "for name in ('moto', 'flask', 'werkzeug', 'matplotlib', 'dask', 'distributed'): sys.modules[name] = None\n"
        "import ams_actors, protocols\n"
        "for pkg in (ams_actors, protocols):\n"
        "    for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if not mod.name.endswith('.__main__'): importlib.import_module(mod.name)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_sim_without_its_extra_says_how_to_install_it(tmp_path: Path) -> None:
    proc = _ams_without(("moto",), "sim", "--minutes", "1", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("ams sim: moto: not installed") and "pip install" in lines[0] and "[sim]" in lines[0]


def test_solve_plot_without_matplotlib_says_how_to_install_it(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")
    proc = _ams_without(("matplotlib",), "solve", str(event), "--plot", str(tmp_path / "plots"), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "[plots]" in proc.stderr, proc.stderr
    assert proc.stderr.startswith("ams solve: matplotlib: not installed (--plot needs it")
    assert not (tmp_path / "plots").exists()


def test_archive_without_dask_says_how_to_install_it(tmp_path: Path) -> None:
    proc = _ams_without(("distributed",), "archive", "resolve", "--from", "2026_08_11", "--to", "2026_08_12",
                        cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "[archive]" in proc.stderr, proc.stderr
    assert proc.stderr.startswith("ams archive: distributed: not installed")
