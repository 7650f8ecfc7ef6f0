"""Optional dependencies: a station installs only what it runs; the rest comes with a pip extra.

``pip install ams-actors`` is what a mini-PC needs; the simulator's embedded S3 server (moto, Flask …)
and the diagnostic plots (matplotlib) are extras. A verb that needs one says in one line how to get it
instead of failing with an ImportError deep inside.
"""

from __future__ import annotations

import importlib

from protocols.errors import InputError

# extra -> (the module it provides, what needs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "sim": ("moto", "the simulator's embedded S3 server"),
    "plots": ("matplotlib", "--plot"),
    "archive": ("distributed", "`ams archive resolve` (Dask distributed)"),
}


def require(extra: str) -> None:
    """Raise a one-line InputError (exit 2) naming the pip extra when its module is not installed."""
    module, purpose = EXTRAS[extra]
    try:
        importlib.import_module(module)
    except ImportError:
        raise InputError(
            module,
            None,
            f"not installed ({purpose} needs it; a station install leaves it out): "
            f"python3 -m pip install 'ams-actors[{extra}]' (from a checkout: python3 -m pip install -e '.[{extra}]')",
        ) from None
