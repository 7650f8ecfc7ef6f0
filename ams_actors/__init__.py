"""ams-actors: station and network software for an all-sky meteor camera network."""

__version__ = "0.1.0"
