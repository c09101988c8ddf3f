#!/usr/bin/env python3
"""Make a shared-library pjproject available to sipcore and write its libpjproject.pc.

Order of preference:

1. ``pkg-config libpjproject`` already finds pjproject >= 2.12 (and neither --source nor
   --prefix was given): use it, build nothing.
2. ``--source PATH|URL``: build from that source tree, tarball or tarball URL.
3. Otherwise, on Debian/Ubuntu: take the pjproject tree carried inside Debian's ``ring``
   (Jami) source package, fetched with ``apt-get source`` through a *private* apt
   configuration (a deb-src line in a scratch directory; the system's sources are not
   touched).

The build goes into a cache prefix outside the checkout,
``$SIPCORE_CACHE_DIR`` or ``$XDG_CACHE_HOME/sipcore`` or ``~/.cache/sipcore``, in a folder
named after the pjproject version and a hash of the configure options, config_site.h
and the source patches (PATCHES),
so later runs (and CI on the same machine) reuse it.  ``--prefix`` overrides that.

Usage:  python build_pjsip.py [--source PATH|URL] [--prefix DIR] [--jobs N] [--force]
        python build_pjsip.py --pc-path      # print only the folder holding libpjproject.pc
        python build_pjsip.py --sanitize address,undefined --pc-path   # for `make asan`

``--sanitize LIST`` builds the same source with the same options and config_site.h, compiled
and linked with ``-fsanitize=LIST`` (see SANITIZE_CFLAGS), into a prefix of its own (its own
cache key); it never uses a system pjproject and never updates the cache's ``current`` file,
so the normal build and whatever sipcore finds by default are untouched.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request

MIN_VERSION = "2.12"

CONFIGURE_OPTIONS = [
    "--enable-shared",
    "--enable-epoll",  # the select() ioqueue holds 64 sockets; epoll scales to thousands
    "--with-external-speex",
    "--with-external-gsm",
    "--with-external-srtp",
    "--disable-ilbc-codec",  # third_party/ilbc is stripped from Debian's tree
    "--disable-g7221-codec",  # likewise third_party/g7221
    "--disable-video",
    "--disable-libwebrtc",
    "--disable-sdl",
    "--disable-ffmpeg",
    "--disable-v4l2",
    "--disable-openh264",
    "--disable-libyuv",
    # No libuuid: pjlib's uuid GUIDs cost ~5 system calls each and every request takes three
    # (Call-ID, tag, branch); pjlib's own random GUIDs (guid_simple.c) are enough for those.
    "ac_cv_lib_uuid_uuid_generate=no",
    "ac_cv_header_uuid_uuid_h=no",
]

# config_site.h: pjproject's defaults are sized for phones (64 sockets, 1023 transactions,
# 511 dialogs).  A library that runs test suites, registrars' load tests and thousands of
# calls needs more, and the installed header carries these values to every consumer, so
# the cffi module sees the same struct layouts as the libraries.
CONFIG_SITE = """\
/* Written by sipcore's build_pjsip.py. */

/* Sockets one ioqueue can hold.  pjproject's default is 64: PJSUA2's wheel aborted on an
 * ioqueue free-list assertion after 32 calls with RTP (two sockets per call, and closed keys
 * linger PJ_IOQUEUE_KEY_FREE_DELAY ms before re-use).  Every SIP transport and every
 * RTP/RTCP socket takes one handle; 4096 covers ~2000 simultaneous calls. */
#define PJ_IOQUEUE_MAX_HANDLES          4096
/* Whether to keep a key usable for a short while after unregistration (avoids use after
 * free in late callbacks); pjproject's default, kept explicit. */
#define PJ_IOQUEUE_HAS_SAFE_UNREG       1

/* Hash-table sizes of the transaction layer and the dialog table.  They are not hard caps,
 * but lookups degrade into long chains past them: size for tens of thousands. */
#define PJSIP_MAX_TSX_COUNT             (16*1024-1)
#define PJSIP_MAX_DIALOG_COUNT          (16*1024-1)

/* Pending TCP/TLS connections in the listen() backlog (default 5): a burst of clients
 * connecting at once must not be refused. */
#define PJSIP_TCP_TRANSPORT_BACKLOG     128
#define PJSIP_TLS_TRANSPORT_BACKLOG     128

/* PJSIP_MAX_PKT_LEN stays at its default (4000): every request and response allocates a
 * print buffer of this size, and each finished client transaction keeps its request for
 * Timer K (5 s); 8000 doubled the memory and page faults per transaction (measured with
 * benchmarks/message_rate.py and registrations.py).  Over UDP, larger requests switch to
 * TCP (RFC 3261 18.1.1). */

/* Addresses the resolver may return for one destination (pjproject: 32 with IPv6).  Every
 * tx_data embeds room for all of them (pjsip_server_addresses, 44 bytes each): at 32 that is
 * 1.4 KB of a 2.3 KB tx_data, and it pushed a 200 response (4.2 KB of structures before its
 * print buffer) onto a second page, which a server transaction holds for Timer J (32 s over
 * UDP).  At 8 a response fits one page: one page fault less per request a busy receiver
 * answers (measured with benchmarks/message_rate.py).  Eight addresses (SRV targets times
 * A/AAAA records) are more than a user agent fails over to in practice. */
#define PJSIP_MAX_RESOLVED_ADDRESSES    8

/* Pool sizes of a tx_data (a request or response being sent) and of an rx_data (a received
 * message).  With pjproject's 4000/4000, a MESSAGE request takes three blocks: the first
 * (4096: the caching pool rounds up) fills with the message's structures (about 5000 bytes),
 * then a 4000-byte increment, then an 8000-byte one for the 4000-byte print buffer (an
 * allocation as large as the increment gets a double block): 16 KB, held for Timer K.  One
 * 12 KiB block holds it all (9.3 KB used); an increment of 4352 takes a print buffer alone.
 * An rx_data embeds a PJSIP_MAX_PKT_LEN packet buffer, so it never fit its 4000-byte first
 * block: every received packet allocated and zeroed a second 8000-byte one. */
#define PJSIP_POOL_LEN_TDATA            12288
#define PJSIP_POOL_INC_TDATA            4352
#define PJSIP_POOL_RDATA_LEN            12288
#define PJSIP_POOL_RDATA_INC            4000

/* Increments of a transport's pool and of the UA layer's pool.  Every transaction adds a
 * state listener to its transport and every dialog a node to the UA layer's table; pjsip
 * keeps both kinds of entries (on free lists) until the end, so these pools grow to the peak
 * number of transactions / dialogs and stay there.  In pjproject's 512-byte increments they
 * sat scattered among the short-lived 512-byte blocks of every transaction's group lock, each
 * keeping a page resident (7 MB after 3,000 calls in a second).  3840 and 3328 are block
 * sizes (15 and 13 x 256) nothing else in pjproject asks for, so sipcore's slab allocator
 * keeps these long-lived blocks together in slabs of their own (glue_pool.c), and apart from
 * each other: sipcore renews the UA layer when idle without dialogs (sc_ua_renew), and its
 * freed blocks then leave whole slabs to unmap instead of holes between a transport's. */
#define PJSIP_POOL_INC_TRANSPORT        3840
#define PJSIP_POOL_INC_UA               3328

/* pjlib's debug bookkeeping off (assert() stays on: no NDEBUG).  Without NDEBUG, PJ_DEBUG
 * defaults to 1, which makes every mutex lock and unlock look up the calling thread and
 * copy its name (about 150 of each per MESSAGE round trip), counts every tx_data in a
 * global atomic (itself a mutex) and re-checks CSeq in dialogs: 6% of the instructions of
 * a MESSAGE round trip (measured with callgrind), for checks nothing reads.  Struct layouts
 * do not depend on it. */
#define PJ_DEBUG                        0
/* Timer entries without the source file and line of whoever scheduled them (debug only):
 * 16 bytes less in each of the timer heap's slots, which are touched up to the peak number
 * of timers ever pending -- one per transaction that waits out Timer J/K, so thousands after
 * a burst of calls (benchmarks/call_rate.py endurance). */
#define PJ_TIMER_DEBUG                  0
/* pjsip indents its log lines by call depth, kept per thread: every transaction step pushes
 * and pops that indent through pthread_getspecific/pthread_setspecific, log on or off (2% of
 * the instructions of sending a MESSAGE, measured with callgrind).  Without it the lines
 * SIPEngineLog carries are the same, unindented. */
#define PJ_LOG_ENABLE_INDENT            0

#define PJ_HAS_IPV6                     1
#define PJMEDIA_HAS_VIDEO               0
"""

# Source patches, applied to the unpacked tree before configure: (file, old text, new text).
# Debian's pjproject (Jami's tree) skips deprecated/tentative IPv6 addresses with a netlink
# RTM_GETADDR dump, in pj_ice_sess_add_cand() (every local ICE candidate) and in
# pj_enum_ip_interface2(); both read datagrams until one *starts* with NLMSG_DONE.  Since
# Linux 6.x the kernel appends NLMSG_DONE to the last datagram of addresses, so the loop
# reads that datagram and waits in recv() for ever -- on the thread adding the candidate
# (sipcore's poll thread).  The fix stops at an NLMSG_DONE or NLMSG_ERROR anywhere in a
# datagram, as netlink readers must.  A tree without that code needs nothing; a tree with it
# that the patch does not match fails the build (rather than hang at run time).
_NL_LOOP = ("\tfor(; NLMSG_OK(nlmsg_ptr, nlmsg_len);\n"
            "\t    nlmsg_ptr = NLMSG_NEXT(nlmsg_ptr, nlmsg_len))\n"
            "\t{\n")
_NL_STOP = ("\t    if (nlmsg_ptr->nlmsg_type == NLMSG_DONE ||\n"
            "\t\tnlmsg_ptr->nlmsg_type == NLMSG_ERROR)\n"
            "\t\tgoto sc_dump_done;   /* sipcore: NLMSG_DONE may share a datagram */\n")
#
# pjlib's epoll ioqueue keeps an unregistered socket's key aside for 500 ms
# (PJ_IOQUEUE_HAS_SAFE_UNREG) and counts only live ones, so a process that opens and closes
# sockets fast (RTPTransports made and dropped: about 4,000 sockets in 500 ms) finds the free
# list empty while under its maximum.  pj_ioqueue_register_sock() handles that with
# PJ_ETOOMANY -- right after a pj_assert() on it, which aborts the process (assertions are on
# in this build).  The patch drops the assertion: the caller gets the error (sipcore raises
# it), the process lives.  Each entry: (file, old, new, only if the file holds this text).
_IOQ_ASSERT = ("    pj_assert(!pj_list_empty(&ioqueue->free_list));\n"
               "    if (pj_list_empty(&ioqueue->free_list)) {\n")
#
# The same ioqueue moves a closed key to the free list once its 500 ms are over, in
# scan_closing_keys(), which pj_ioqueue_register_sock2() runs under the ioqueue's lock for every
# socket opened.  It walked the whole list of closed keys each time, although the list is in
# order of free time (keys are appended under that lock, each due 500 ms after it was added):
# with RTPTransports opened and closed continuously that is about 1,000 keys per socket
# opened, 4.3% of the process's CPU (perf, continuous offer/answer pairs with streams).  The
# patch stops at the first key not yet due.
_IOQ_SCAN = ("\t    pj_list_push_back(&ioqueue->free_list, h);\n"
             "\t}\n"
             "\th = next;\n")
_IOQ_SCAN_STOP = ("\t    pj_list_push_back(&ioqueue->free_list, h);\n"
                  "\t} else {\n"
                  "\t    break;   /* sipcore: the list is in order of free_time */\n"
                  "\t}\n"
                  "\th = next;\n")
#
# pjsip_param_print_on() prints a parameter value that starts with '"' as it is (a quoted
# string: +sip.instance="<urn:...>"), every other one escaped.  A value that only starts with
# one -- a peer's ;p=%22abc, which the parser decodes to "abc -- went out as ;p="abc, which no
# parser reads: PJSIP's own 200 to such a request carried To: <sip:x@h;p="abc>.  The patch
# prints a value as it is only when it is a whole quoted string (RFC 3261 25.1, without
# control characters: the rule of SIPURI's _QUOTED) and escapes any other.  (SIPURI refuses
# such values from Python too, so sipcore does not depend on this build for what it sends.)
_PRINT_ON = "PJ_DEF(pj_ssize_t) pjsip_param_print_on( const pjsip_param *param_list,\n"
_WHOLE_QUOTED = (
    "/* sipcore: a whole quoted string (RFC 3261 25.1), printed as it is; see build_pjsip.py */\n"
    "static pj_bool_t sc_whole_quoted(const pj_str_t *v)\n"
    "{\n"
    "    pj_ssize_t i;\n"
    "    if (v->slen < 2 || v->ptr[0] != '\"' || v->ptr[v->slen - 1] != '\"')\n"
    "\treturn PJ_FALSE;\n"
    "    for (i = 1; i < v->slen - 1; i++) {\n"
    "\tunsigned char c = (unsigned char) v->ptr[i];\n"
    "\tif (c == '\\\\') {          /* quoted-pair: a tab or a printable ASCII character */\n"
    "\t    if (++i >= v->slen - 1)\n"
    "\t\treturn PJ_FALSE;        /* it escapes the closing quote */\n"
    "\t    c = (unsigned char) v->ptr[i];\n"
    "\t    if (c != '\\t' && (c < 0x20 || c > 0x7e))\n"
    "\t\treturn PJ_FALSE;\n"
    "\t} else if (c == '\"' || (c < 0x20 && c != '\\t') || c == 0x7f) {\n"
    "\t    return PJ_FALSE;\n"
    "\t}\n"
    "    }\n"
    "    return PJ_TRUE;\n"
    "}\n"
    "\n")
_QUOTED_AS_IS = "\t    if (*p->value.ptr == '\"')\n\t\tcopy_advance(buf, p->value);\n"
_WHOLE_AS_IS = "\t    if (sc_whole_quoted(&p->value))\n\t\tcopy_advance(buf, p->value);\n"
PATCHES = [
    ("pjnath/src/pjnath/ice_session.c", _NL_LOOP, _NL_LOOP + _NL_STOP, "RTM_GETADDR"),
    ("pjnath/src/pjnath/ice_session.c", "\n    close(fd);\n    *size = idx;\n",
     "\nsc_dump_done:\n    close(fd);\n    *size = idx;\n", "RTM_GETADDR"),
    ("pjlib/src/pj/ip_helper_generic.c", _NL_LOOP, _NL_LOOP + _NL_STOP, "RTM_GETADDR"),
    ("pjlib/src/pj/ip_helper_generic.c", "\n    close(fd);\n    *count = idx;\n",
     "\nsc_dump_done:\n    close(fd);\n    *count = idx;\n", "RTM_GETADDR"),
    ("pjlib/src/pj/ioqueue_epoll.c", _IOQ_ASSERT,
     "    /* sipcore: no pj_assert here, PJ_ETOOMANY below */\n"
     "    if (pj_list_empty(&ioqueue->free_list)) {\n", "free_list"),
    ("pjlib/src/pj/ioqueue_epoll.c", _IOQ_SCAN, _IOQ_SCAN_STOP, "scan_closing_keys"),
    ("pjsip/src/pjsip/sip_uri.c", _PRINT_ON, _WHOLE_QUOTED + _PRINT_ON, "pjsip_param_print_on"),
    ("pjsip/src/pjsip/sip_uri.c", _QUOTED_AS_IS, _WHOLE_AS_IS, "pjsip_param_print_on"),
]


def apply_patches(src: str) -> None:
    for name, old, new, only_if in PATCHES:
        path = os.path.join(src, name)
        with open(path) as fh:
            text = fh.read()
        if only_if not in text or new in text:
            continue                    # not this tree's code, or already patched
        if text.count(old) != 1:
            fail(f"{name}: a sipcore patch does not apply (see PATCHES in build_pjsip.py)")
        with open(path, "w") as fh:
            fh.write(text.replace(old, new))
        say(f"patched {name}")


# Debian packages the build needs, and a file each provides (to name what is missing).
BUILD_PACKAGES = {
    "build-essential": "/usr/bin/make",
    "pkg-config": "/usr/bin/pkg-config",
    "libspeex-dev": "/usr/include/speex/speex.h",
    "libspeexdsp-dev": "/usr/include/speex/speex_preprocess.h",
    "libgsm1-dev": "/usr/include/gsm.h",
    "libsrtp2-dev": "/usr/include/srtp2/srtp.h",
    "libopus-dev": "/usr/include/opus/opus.h",
    "libssl-dev": "/usr/include/openssl/ssl.h",
    "libasound2-dev": "/usr/include/alsa/asoundlib.h",
}


def say(msg: str) -> None:
    print(f"build_pjsip: {msg}", file=sys.stderr, flush=True)


def fail(msg: str) -> "NoReturn":  # noqa: F821
    say(f"error: {msg}")
    sys.exit(1)


def run(cmd: list[str], cwd: str | None = None, log: str | None = None) -> None:
    say("$ " + " ".join(cmd) + (f"   (log: {log})" if log else ""))
    if log:
        with open(log, "w") as fh:
            rc = subprocess.call(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
        if rc != 0:
            with open(log) as fh:
                tail = fh.read()[-3000:]
            fail(f"{cmd[0]} {' '.join(cmd[1:2])} failed (exit {rc}); last lines of {log}:\n{tail}")
    else:
        rc = subprocess.call(cmd, cwd=cwd, stdout=sys.stderr)
        if rc != 0:
            fail(f"command failed (exit {rc}): {' '.join(cmd)}")


def cache_root() -> str:
    if os.environ.get("SIPCORE_CACHE_DIR"):
        return os.environ["SIPCORE_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sipcore")


CFLAGS = "-O2 -fPIC -g"

# Added to CFLAGS and LDFLAGS by --sanitize (`make asan`): frame pointers for ASan's stack
# traces, and UBSan's findings fatal (no recovery) so none is lost in a test's output.
SANITIZE_CFLAGS = "-fno-omit-frame-pointer -fno-sanitize-recover=undefined"


def sanitize_flags(sanitize: str | None) -> str:
    """The compiler (and linker) flags of a --sanitize build; "" without one."""
    if not sanitize:
        return ""
    return f"-fsanitize={sanitize} {SANITIZE_CFLAGS}"


def options_key(sanitize: str | None = None) -> str:
    h = hashlib.sha256()
    h.update(CFLAGS.encode() + b"rpath")
    if sanitize:  # the normal build's key stays what it was
        h.update(b"sanitize:" + sanitize_flags(sanitize).encode())
    h.update("\n".join(CONFIGURE_OPTIONS).encode())
    h.update(CONFIG_SITE.encode())
    h.update(repr(PATCHES).encode())
    return h.hexdigest()[:12]


def system_pjproject() -> str | None:
    """Version of a pjproject pkg-config already finds, if it is recent enough."""
    if not shutil.which("pkg-config"):
        return None
    r = subprocess.run(["pkg-config", f"--atleast-version={MIN_VERSION}", "libpjproject"])
    if r.returncode != 0:
        return None
    return subprocess.run(["pkg-config", "--modversion", "libpjproject"],
                          capture_output=True, text=True).stdout.strip()


def check_build_packages() -> None:
    missing = [pkg for pkg, path in BUILD_PACKAGES.items() if not os.path.exists(path)]
    if missing:
        fail("missing build dependencies: " + " ".join(missing) +
             "\n  install them with: apt-get install " + " ".join(missing) +
             "\n  (or run `make setup`, which does it when run as root)")


def tree_version(src: str) -> str:
    vals = {}
    with open(os.path.join(src, "version.mak")) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "export" and parts[1].startswith("PJ_VERSION_"):
                vals[parts[1]] = parts[3] if len(parts) > 3 else ""
    v = f"{vals.get('PJ_VERSION_MAJOR')}.{vals.get('PJ_VERSION_MINOR')}"
    if vals.get("PJ_VERSION_REV"):
        v += "." + vals["PJ_VERSION_REV"]
    return v + vals.get("PJ_VERSION_SUFFIX", "")


def find_tree(top: str) -> str:
    """The pjproject tree below top: the folder with version.mak and pjsip/."""
    for dirpath, dirnames, filenames in os.walk(top):
        if "version.mak" in filenames and "pjsip" in dirnames and "aconfigure" in filenames:
            return dirpath
    fail(f"no pjproject tree (version.mak + pjsip/) found under {top}")


def unpack(tarball: str, dest: str) -> str:
    say(f"unpacking {tarball}")
    with tarfile.open(tarball) as tf:
        tf.extractall(dest, filter="data") if hasattr(tarfile, "data_filter") else tf.extractall(dest)
    return find_tree(dest)


def source_from_arg(source: str, work: str) -> str:
    if "://" in source:
        path = os.path.join(work, os.path.basename(source.split("?")[0]) or "pjproject.tar.gz")
        say(f"downloading {source}")
        try:
            urllib.request.urlretrieve(source, path)
        except OSError as exc:
            fail(f"could not download {source}: {exc}")
        return unpack(path, os.path.join(work, "src"))
    if os.path.isdir(source):
        return find_tree(source)
    if os.path.isfile(source):
        return unpack(source, os.path.join(work, "src"))
    fail(f"--source {source}: no such file or folder")


def source_from_debian_ring(work: str) -> str:
    """pjproject inside Debian's `ring` source package, via a private apt configuration."""
    if not shutil.which("apt-get"):
        fail("no --source given and this is not a Debian/Ubuntu system (no apt-get): "
             "download a pjproject >= 2.12 tarball and run build_pjsip.py --source FILE")
    apt = os.path.join(work, "apt")
    for d in ("lists/partial", "cache/archives/partial", "download"):
        os.makedirs(os.path.join(apt, d), exist_ok=True)
    codename = "bookworm"
    try:
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("VERSION_CODENAME="):
                    codename = line.split("=", 1)[1].strip().strip('"') or codename
    except OSError:
        pass
    srclist = os.path.join(apt, "sources.list")
    with open(srclist, "w") as fh:
        # The Debian archive's deb-src for this release; only this private list is used.
        fh.write(f"deb-src http://deb.debian.org/debian {codename} main\n")
    opts = ["-o", f"Dir::Etc::SourceList={srclist}", "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={apt}/lists", "-o", f"Dir::Cache={apt}/cache",
            "-o", "APT::Sandbox::User=root"]
    run(["apt-get", "-q"] + opts + ["update"])
    run(["apt-get", "-q"] + opts + ["source", "--download-only", "ring"], cwd=os.path.join(apt, "download"))
    tarballs = glob.glob(os.path.join(apt, "download", "ring_*.orig.tar.*"))
    if not tarballs:
        fail("apt-get source ring downloaded no ring_*.orig.tar.* file")
    say(f"extracting the pjproject tree from {os.path.basename(tarballs[0])}")
    dest = os.path.join(work, "src")
    os.makedirs(dest)
    with tarfile.open(tarballs[0]) as tf:
        members = [m for m in tf.getmembers() if "/contrib/tarballs-unpacked/pjproject-" in m.name]
        if not members:
            fail("the ring source package carries no contrib/tarballs-unpacked/pjproject-* tree")
        tf.extractall(dest, members=members)
    return find_tree(dest)


def build(src: str, prefix: str, jobs: int, sanitize: str | None = None) -> None:
    check_build_packages()
    version = tree_version(src)
    say(f"building pjproject {version} from {src} into {prefix}")
    with open(os.path.join(src, "pjlib/include/pj/config_site.h"), "w") as fh:
        fh.write(CONFIG_SITE)
    apply_patches(src)
    logs = os.path.join(os.path.dirname(src.rstrip("/")), "logs")
    os.makedirs(logs, exist_ok=True)
    # The libraries find each other through their own rpath, whoever loads them.
    ldflags = f"-Wl,-rpath,{prefix}/lib"
    cflags = CFLAGS
    if sanitize:
        cflags += " " + sanitize_flags(sanitize)
        ldflags += " " + sanitize_flags(sanitize)
    run(["./configure", f"--prefix={prefix}", *CONFIGURE_OPTIONS, f"CFLAGS={cflags}",
         f"LDFLAGS={ldflags}"],
        cwd=src, log=os.path.join(logs, "configure.log"))
    run(["make", "dep"], cwd=src, log=os.path.join(logs, "dep.log"))
    run(["make", f"-j{jobs}"], cwd=src, log=os.path.join(logs, "make.log"))
    run(["make", "install"], cwd=src, log=os.path.join(logs, "install.log"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", help="pjproject source folder, tarball, or tarball URL")
    ap.add_argument("--prefix", help="install prefix (default: a cache folder keyed by version+options)")
    ap.add_argument("--jobs", type=int, default=(os.cpu_count() or 2) + 1)
    ap.add_argument("--force", action="store_true", help="rebuild even if the prefix is complete")
    ap.add_argument("--pc-path", action="store_true",
                    help="print only the folder holding libpjproject.pc (building first if needed)")
    ap.add_argument("--sanitize", metavar="LIST",
                    help="build with -fsanitize=LIST (e.g. address,undefined) into a prefix of its own")
    args = ap.parse_args()
    key = options_key(args.sanitize)

    if not (args.source or args.prefix or args.force or args.sanitize):
        ver = system_pjproject()
        if ver:
            say(f"using the pjproject {ver} that pkg-config already finds; nothing to build")
            if args.pc_path:
                print(subprocess.run(["pkg-config", "--variable=pcfiledir", "libpjproject"],
                                     capture_output=True, text=True).stdout.strip())
            return

    root = cache_root()
    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pjproject-build-", dir=root) as work:
        prefix = args.prefix
        if prefix is None:
            # Without a given source we know the version only after fetching; a cached
            # build from the same options is reused without fetching anything.
            cached = sorted(glob.glob(os.path.join(root, f"pjproject-*-{key}")))
            cached = [c for c in cached if os.path.exists(os.path.join(c, "lib/pkgconfig/libpjproject.pc"))]
            if cached and not args.force and not args.source:
                prefix = cached[-1]
                say(f"reusing the cached build in {prefix}")
                src = None
            else:
                src = source_from_arg(args.source, work) if args.source else source_from_debian_ring(work)
                prefix = os.path.join(root, f"pjproject-{tree_version(src)}-{key}")
        else:
            prefix = os.path.abspath(prefix)
            src = None
        pc = os.path.join(prefix, "lib/pkgconfig/libpjproject.pc")
        if args.force or not os.path.exists(pc):
            if src is None:
                src = source_from_arg(args.source, work) if args.source else source_from_debian_ring(work)
            shutil.rmtree(prefix, ignore_errors=True)
            build(src, prefix, args.jobs, args.sanitize)
            if not os.path.exists(pc):
                fail(f"make install wrote no {pc}")
            say(f"installed pjproject into {prefix}")
        elif src is None:
            say(f"pjproject already built in {prefix}")
    pcdir = os.path.dirname(pc)
    # sipcore's _ffi_build.py reads this to find the build that matches these options
    # (a --sanitize build is only ever asked for by path: `make asan`).
    if not args.sanitize:
        with open(os.path.join(root, "current"), "w") as fh:
            fh.write(pcdir + "\n")
    if args.pc_path:
        print(pcdir)
    else:
        say(f"done: PKG_CONFIG_PATH={pcdir} pkg-config libpjproject finds it "
            "(sipcore's build looks in this cache by itself)")


if __name__ == "__main__":
    main()
