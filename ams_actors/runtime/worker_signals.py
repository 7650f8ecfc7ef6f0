"""Imported by the pool's fork server (its preload) for the side effect: ignore stop signals.

systemd's default stop (KillMode=control-group) sends SIGTERM to every process of the service. A fork
server killed that way closes the pipes through which the station learns its workers' exit codes,
and the executor then reports every worker dead (`BrokenProcessPool`) in the middle of the drain.
Workers forked from it inherit the ignored signals; they exit when the station shuts the pool down,
or when the station process is gone (runtime/pool.py watches it).
"""

from ams_actors.runtime.signals import ignore_stop_signals

ignore_stop_signals()
