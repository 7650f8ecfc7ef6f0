"""The station's web page and /metrics, served by the station process itself (aiohttp on its loop)."""
