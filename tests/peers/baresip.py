"""Moved to ``sipcore.testing.baresip`` (shipped with the package, used by its pytest plugin);
this name stays so ``from peers.baresip import ...`` keeps working: it IS that module."""
import sys

from sipcore.testing import baresip as _module

sys.modules[__name__] = _module
