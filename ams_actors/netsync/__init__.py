"""The station's exchange with the network through the shared bucket (the Syncer and Correlator
actors and `ams run_detects`).

The actors are thin async shells; what they do lives here so it can be tested and reused without a
running station:

- ``sync``: one Syncer cycle (uploads what changed, downloads partner data and the station's events);
- ``correlation``: one Correlator run against the bucket (kernel in the pool, conditional writes);
- ``downloads``: validation of everything read from the bucket before it is used or written locally.

The local files they read and write are the store's (``store.index_files``: the daily and yearly
meteor index files; ``store.events_tree``: the local ``EVENTS/`` tree); the bucket's file formats
are protocols (``protocols.meteor_index``, ``protocols.events``, ``protocols.ms_detects``).
"""
