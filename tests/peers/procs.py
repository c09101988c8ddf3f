"""Moved to ``sipcore.testing.procs`` (shipped with the package, used by its pytest plugin);
this name stays so ``from peers.procs import ...`` keeps working: it IS that module."""
import sys

from sipcore.testing import procs as _module

sys.modules[__name__] = _module
