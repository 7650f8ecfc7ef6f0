"""Storage: the object store (typed async S3 client, retries, start-up probe, fault-injecting proxy)
and the station's local files (``local_paths``, the ``ledger`` index, ``day_folders`` — what a day's
folder holds —, the meteor ``index_files`` and the local ``events_tree``).

Only the object store client is imported here. ``proxy`` is a test/simulation tool, imported
explicitly; the local-file modules are imported by name where used.
"""

from ams_actors.store.objectstore import DEFAULT_MAX_GET_BYTES, Credentials, ObjectStore, Timeouts
from ams_actors.store.outcomes import (
    AccessDenied,
    Conflict,
    Created,
    CreateOutcome,
    GetOutcome,
    HeadOutcome,
    NotFound,
    ObjectInfo,
    PreconditionFailed,
    PutOutcome,
    Replaced,
    ReplaceOutcome,
    StoreConfigError,
    StoredObject,
    StoreError,
    TooLarge,
    Unknown,
    Written,
)
from ams_actors.store.probe import ProbeResult, ProbeStep, probe
from ams_actors.store.retry import RetryPolicy

__all__ = [
    "DEFAULT_MAX_GET_BYTES",
    "AccessDenied",
    "Conflict",
    "CreateOutcome",
    "Created",
    "Credentials",
    "GetOutcome",
    "HeadOutcome",
    "NotFound",
    "ObjectInfo",
    "ObjectStore",
    "PreconditionFailed",
    "ProbeResult",
    "ProbeStep",
    "PutOutcome",
    "ReplaceOutcome",
    "Replaced",
    "RetryPolicy",
    "StoreConfigError",
    "StoreError",
    "StoredObject",
    "Timeouts",
    "TooLarge",
    "Unknown",
    "Written",
    "probe",
]
