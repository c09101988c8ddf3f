"""Moved to ``sipcore.testing.kamailio`` (shipped with the package, used by its pytest plugin);
this name stays so ``from peers.kamailio import ...`` keeps working: it IS that module."""
import sys

from sipcore.testing import kamailio as _module

sys.modules[__name__] = _module
