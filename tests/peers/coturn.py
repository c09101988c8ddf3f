"""Moved to ``sipcore.testing.coturn`` (shipped with the package, used by its pytest plugin);
this name stays so ``from peers.coturn import ...`` keeps working: it IS that module."""
import sys

from sipcore.testing import coturn as _module

sys.modules[__name__] = _module
