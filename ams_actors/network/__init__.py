"""Network-side logic shared by the Indexer, Syncer and Correlator actors and `ams run_detects`.

The actors are thin async shells; what they do lives here so it can be tested and reused without a
running station:

- ``index_files``: the station's daily and yearly meteor index files (built from the archive JSONs);
- ``ms_detects``: the per-station, per-day list of its meteors that are in events (the correlator's
  answer to each station) and its merge rule;
- ``downloads``: validation of everything read from the bucket before it is used or written locally;
- ``events_tree``: the local ``EVENTS/`` tree (old ``be``);
- ``sync``: one Syncer cycle (uploads what changed, downloads partner data and the station's events);
- ``correlation``: one Correlator run against the bucket (kernel in the pool, conditional writes);
- ``synthetic``: archive JSONs of a straight 3D meteor as seen from given stations (tests, sim).
"""
