"""The embedded S3 server (moto, the ``sim`` extra): for the simulator, the tests, and a station tried
locally with ``[store] endpoint = "embedded"`` (local.py). moto is imported only when a server starts."""
