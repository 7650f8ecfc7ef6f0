"""Re-correlate and re-solve the archive on Dask distributed (issue 14, design.md §5 ``archive/<RUN ID>/``).

Data moves through the bucket: tasks carry keys and small parameters, each worker opens its own
ObjectStore with credentials from its environment. Imported only by ``commands/archive.py`` (and the
Dask workers, by function reference); Dask itself is the optional ``archive`` extra.
"""
