# The cffi out-of-line module compiled by _ffi_build.py.  cffi ships no type stubs, and its
# ``ffi``/``lib`` objects expose the C declarations as dynamic attributes: this is the one
# place they are typed, as Any.
from typing import Any

ffi: Any
lib: Any
