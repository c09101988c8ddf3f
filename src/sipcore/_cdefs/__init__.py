"""C declarations for the cffi module ``sipcore._pjsip``, one module per pjproject library.

Each module defines four strings, after pyca/cryptography's ``_cffi_src``:

``INCLUDES``        the C ``#include`` lines it needs;
``TYPES``           types and constants (partial structs ``{ ...; }`` let the compiler fill in
                    pjproject's layouts, so they follow config_site.h);
``FUNCTIONS``       function prototypes, copied from the pjproject headers;
``CUSTOMIZATIONS``  C code compiled into the module.

``_ffi_build.py`` concatenates them in the order of ``MODULES``.
"""

MODULES = ["pjlib", "pjsip", "pjsip_ua", "pjsip_simple", "pjsip_inv", "pjmedia", "pjmedia_sdp", "glue"]
