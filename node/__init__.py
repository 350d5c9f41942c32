"""The composition root: storage, block import, txpool, RPC, metrics, logging, CLI."""
from importlib.metadata import PackageNotFoundError, version

import vm  # noqa: F401  (chooses the fast keccak backend before anything hashes)

try:
    __version__ = version("chameleon")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
