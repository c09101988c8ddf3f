"""Moved to ``sipcore.testing.ports`` (shipped with the package, used by its pytest plugin);
this name stays so ``from peers.ports import ...`` keeps working: it IS that module."""
import sys

from sipcore.testing import ports as _module

sys.modules[__name__] = _module
