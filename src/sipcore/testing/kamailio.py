"""A throw-away Kamailio registrar/proxy/presence server for real-peer tests.

Usage::

    from sipcore.testing.kamailio import Kamailio

    with Kamailio(ipv6=True) as k:
        k.add_user("alice", "secret")
        k.add_user("bob", "secret")
        ...  # register clients against k.host:k.port (udp/tcp), k.tls_port
        k.restart()                         # same ports, same DB
        print(k.contacts("alice"))          # usrloc bindings (via JSON-RPC)

As a pytest fixture: ``kamailio`` of the sipcore pytest plugin (docs/testing.md);
``k.account("alice")`` gives sipcore's credentials and route of a user (added if new).

Everything listens on 127.0.0.1 (and [::1] if ``ipv6=True``) only.

Routing (see ``_CFG_TEMPLATE`` below for the actual script):

* OPTIONS to the server itself (no user part)       -> 200 (keepalive/probe)
* REGISTER                 -> www digest auth (auth_db, ``subscriber``)
                              -> save("location")
* requests with a To-tag   -> loose_route + t_relay (in-dialog)
* PUBLISH/SUBSCRIBE        -> proxy auth -> presence handle_publish/subscribe
* anything else from one of our domains (From host == myself)
                           -> proxy auth (407) -> lookup("location") -> t_relay
  (``auth_messages=False`` skips the auth for MESSAGE).
* Record-Route for INVITE / SUBSCRIBE / REFER.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .helpers import Account

from .ports import free_port, ipv6_available
from .procs import ManagedPeer

__all__ = ["Kamailio", "KamailioError", "make_tls_cert", "sip_options_ping"]

SCHEMA_DIRS = [
    "/usr/share/kamailio/db_sqlite",
    "/usr/share/kamailio/sqlite",
    "/usr/local/share/kamailio/db_sqlite",
]
# schema files: version table, subscriber, location (usrloc), presence tables
SCHEMA_FILES = ["standard-create.sql", "auth_db-create.sql",
                "usrloc-create.sql", "presence-create.sql"]


class KamailioError(RuntimeError):
    pass


def _find_binary(name: str, extra: Iterable[str] = ("/usr/sbin", "/usr/local/sbin")) -> str:
    p = shutil.which(name)
    if p:
        return p
    for d in extra:
        cand = os.path.join(d, name)
        if os.access(cand, os.X_OK):
            return cand
    raise KamailioError(f"{name} binary not found")


def _schema_dir() -> Path:
    for d in SCHEMA_DIRS:
        if all((Path(d) / f).exists() for f in SCHEMA_FILES):
            return Path(d)
    raise KamailioError(
        "kamailio sqlite schema not found (install kamailio-sqlite-modules); "
        f"looked in {SCHEMA_DIRS}")


# --------------------------------------------------------------------------
# TLS material
# --------------------------------------------------------------------------

def make_tls_cert(directory: str | os.PathLike[str], cn: str = "127.0.0.1",
                  san: str = "IP:127.0.0.1,IP:::1") -> dict[str, str]:
    """Create a small CA and a server cert signed by it (openssl CLI).

    Returns dict(ca_file=, cert_file=, key_file=, ca_key_file=).  The server
    cert has subjectAltName ``san``; ``ca_file`` is what clients should trust.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = d / "ca.key", d / "ca.pem"
    key, csr, crt = d / "server.key", d / "server.csr", d / "server.pem"
    ext = d / "server.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        f"subjectAltName={san}\n")

    def run(*args: str) -> None:
        r = subprocess.run(["openssl", *args], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise KamailioError(f"openssl {args[0]} failed: {r.stderr}")

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
        "-days", "30", "-subj", "/CN=sipcore test CA",
        "-keyout", str(ca_key), "-out", str(ca_crt))
    run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-sha256",
        "-subj", f"/CN={cn}", "-keyout", str(key), "-out", str(csr))
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt),
        "-CAkey", str(ca_key), "-CAcreateserial", "-days", "30", "-sha256",
        "-extfile", str(ext), "-out", str(crt))
    return dict(ca_file=str(ca_crt), cert_file=str(crt), key_file=str(key),
                ca_key_file=str(ca_key))


# --------------------------------------------------------------------------
# a tiny SIP prober (no external tools needed)
# --------------------------------------------------------------------------

def sip_options_ping(host: str, port: int, timeout: float = 1.0,
                     family: int = socket.AF_INET) -> str | None:
    """Send one OPTIONS over UDP; return the status line of the reply or None."""
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.bind((host, 0))
        lport = s.getsockname()[1]
        h = f"[{host}]" if ":" in host else host
        branch = "z9hG4bK" + uuid.uuid4().hex
        msg = (f"OPTIONS sip:{h}:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {h}:{lport};branch={branch};rport\r\n"
               "Max-Forwards: 70\r\n"
               f"From: <sip:probe@{h}>;tag={uuid.uuid4().hex[:8]}\r\n"
               f"To: <sip:{h}:{port}>\r\n"
               f"Call-ID: {uuid.uuid4().hex}@probe\r\n"
               "CSeq: 1 OPTIONS\r\n"
               "Content-Length: 0\r\n\r\n")
        s.settimeout(timeout)
        s.sendto(msg.encode(), (host, port))
        data, _ = s.recvfrom(65535)
        return data.split(b"\r\n", 1)[0].decode(errors="replace")
    except OSError:  # timeout, ICMP port unreachable, ...
        return None
    finally:
        s.close()


# --------------------------------------------------------------------------
# kamailio.cfg
# --------------------------------------------------------------------------

# Rendered with str.format(): literal braces in the script are doubled.
_CFG_TEMPLATE = r"""#!KAMAILIO
#
# Generated by sipcore.testing.kamailio -- throw-away test registrar/proxy.
#
{defines}

####### Global parameters #########
debug={debug}
log_stderror=yes
fork=yes
children={children}
tcp_children={children}
auto_aliases=no
# no DNS in the test environment: never try to resolve anything
dns=no
rev_dns=no
use_dns_cache=no
dns_try_ipv6=no
enable_tls=yes
# needed so the JSON-RPC-over-HTTP (xhttp) requests are accepted on the
# SIP TCP port
tcp_accept_no_cl=yes
tcp_connection_lifetime=3605
server_header="Server: sipcore-test-kamailio"
user_agent_header="User-Agent: sipcore-test-kamailio"

{listen}
{aliases}

####### Modules #########
{mpath}
# tls must be the first module that uses libssl
loadmodule "tls.so"
loadmodule "db_sqlite.so"
loadmodule "jsonrpcs.so"
loadmodule "xhttp.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "nathelper.so"
loadmodule "presence.so"
loadmodule "presence_xml.so"

# ----- tls: server cert/key + client profile, see tls.cfg
modparam("tls", "config", "{tls_cfg}")

# ----- jsonrpcs: only the HTTP transport (POST http://host:port/RPC);
#       the default FIFO transport would want /run/kamailio
modparam("jsonrpcs", "transport", 1)

# ----- tm: short final-response timer so "callee gone" tests don't hang
modparam("tm", "fr_timer", {fr_timer})
modparam("tm", "fr_inv_timer", {fr_inv_timer})

# ----- rr
modparam("rr", "enable_full_lr", 0)
modparam("rr", "append_fromtag", 1)

# ----- registrar / usrloc
# db_mode 0 = bindings in memory only (lost on restart()),
#         1 = write-through to the sqlite `location` table.
modparam("usrloc", "db_url", "{db_url}")
modparam("usrloc", "db_mode", {usrloc_db_mode})
modparam("usrloc", "use_domain", 0)
modparam("registrar", "min_expires", {min_expires})
modparam("registrar", "max_expires", {max_expires})
modparam("registrar", "default_expires", 3600)
# remember the source ip:port:proto of REGISTER (fix_nated_register) and use
# it for delivery: makes TCP/TLS clients reachable over their own connection
modparam("registrar", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")

# ----- auth: plain-text passwords in subscriber.password (calculate_ha1)
modparam("auth_db", "db_url", "{db_url}")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "use_domain", 0)
modparam("auth_db", "load_credentials", "")

# ----- presence
modparam("presence", "db_url", "{db_url}")
modparam("presence", "server_address", "sip:{host}:{port}")
modparam("presence_xml", "db_url", "{db_url}")
modparam("presence_xml", "force_active", 1)
modparam("presence_xml", "integrated_xcap_server", 0)


####### Routing Logic ########

request_route {{
	route(REQINIT);
	xlog("L_INFO", "REQ $rm $ru from $fu ($proto:$si:$sp) to-tag=$tt\n");

	# CANCEL: relay if it matches a transaction
	if (is_method("CANCEL")) {{
		if (t_check_trans()) {{
			route(RELAY);
		}}
		exit;
	}}

	# absorb retransmissions
	if (!is_method("ACK")) {{
		if (t_precheck_trans()) {{
			t_check_trans();
			exit;
		}}
		t_check_trans();
	}}

	# in-dialog requests (To-tag present)
	route(WITHINDLG);

	# ---- initial requests from here on ----
	# preloaded Route headers (e.g. a client's outbound proxy = us) are dropped
	remove_hf("Route");

	# keepalive / readiness probe: OPTIONS to the server itself
	if (is_method("OPTIONS") && uri==myself && $rU==$null) {{
		sl_send_reply("200", "Keepalive");
		exit;
	}}

	if (is_method("INVITE|SUBSCRIBE|REFER")) {{
		record_route();
	}}

	route(REGISTRAR);
	route(AUTH);
	route(PRESENCE);

	if ($rU==$null) {{
		sl_send_reply("484", "Address Incomplete");
		exit;
	}}
	route(LOCATION);
}}

route[REQINIT] {{
	force_rport();
	if (!mf_process_maxfwd_header("10")) {{
		sl_send_reply("483", "Too Many Hops");
		exit;
	}}
	if (!sanity_check()) {{
		xlog("L_WARN", "malformed request from $si:$sp\n");
		exit;
	}}
}}

route[RELAY] {{
	if (!t_relay()) {{
		sl_reply_error();
	}}
	exit;
}}

route[WITHINDLG] {{
	if (!has_totag()) return;

	if (loose_route()) {{
		# a SUBSCRIBE refresh routed to us (presence dialog)
		if (is_method("SUBSCRIBE") && uri==myself) {{
			route(PRESENCE);
			exit;
		}}
		route(RELAY);
		exit;
	}}
	if (is_method("SUBSCRIBE") && uri==myself) {{
		route(PRESENCE);
		exit;
	}}
	if (is_method("ACK")) {{
		# ACK for a negative reply is absorbed by tm; relay stateful ones
		if (t_check_trans()) {{
			route(RELAY);
		}}
		exit;
	}}
	sl_send_reply("404", "Not here");
	exit;
}}

route[REGISTRAR] {{
	if (!is_method("REGISTER")) return;

	if (!www_authorize("$td", "subscriber")) {{
		www_challenge("$td", "{qop_flag}");
		exit;
	}}
	# an authenticated user may only register its own AOR
	if ($au != $tU) {{
		sl_send_reply("403", "Forbidden auth ID");
		exit;
	}}
	consume_credentials();
#!ifdef USE_RECEIVED_ALL
	# store source ip:port;transport as `received` (used by lookup())
	fix_nated_register();
#!else
#!ifdef USE_RECEIVED_STREAM
	# TCP/TLS: deliver over the client's own connection, not to its Contact
	if (proto != UDP) {{
		fix_nated_register();
	}}
#!endif
#!endif
	if (!save("location")) {{
		sl_reply_error();
	}}
	exit;
}}

route[AUTH] {{
	if (!(from_uri==myself)) {{
		# foreign caller: only allowed towards our users
		if (!(uri==myself)) {{
			sl_send_reply("403", "Not relaying");
			exit;
		}}
		return;
	}}
#!ifndef AUTH_MESSAGES
	if (is_method("MESSAGE")) return;
#!endif
#!ifndef AUTH_PRESENCE
	if (is_method("PUBLISH|SUBSCRIBE")) return;
#!endif
	if (!proxy_authorize("$fd", "subscriber")) {{
		proxy_challenge("$fd", "{qop_flag}");
		exit;
	}}
	if ($au != $fU) {{
		sl_send_reply("403", "Forbidden auth ID");
		exit;
	}}
	consume_credentials();
}}

route[PRESENCE] {{
	if (!is_method("PUBLISH|SUBSCRIBE")) return;
	if (!(uri==myself)) return;   # someone else's presence server: relay

	if (!t_newtran()) {{
		sl_reply_error();
		exit;
	}}
	if (is_method("PUBLISH")) {{
		handle_publish();
	}} else {{
		handle_subscribe();
	}}
	t_release();
	exit;
}}

route[LOCATION] {{
	if (uri==myself) {{
		if (!lookup("location")) {{
			$var(rc) = $rc;
			t_newtran();
			switch ($var(rc)) {{
				case -2:
					send_reply("405", "Method Not Allowed");
					exit;
				default:
					send_reply("404", "Not Found");
					exit;
			}}
		}}
	}}
	route(RELAY);
}}

onreply_route {{
	xlog("L_INFO", "RPL $rs $rr for $rm from $si:$sp\n");
}}

# JSON-RPC over HTTP on the SIP TCP port: POST /RPC
event_route[xhttp:request] {{
	if ($hu =~ "^/RPC") {{
		jsonrpc_dispatch();
	}} else {{
		xhttp_reply("404", "Not Found", "text/plain", "use /RPC\n");
	}}
}}
"""

_TLS_CFG_TEMPLATE = """\
[server:default]
method = TLSv1.2+
verify_certificate = {verify}
require_certificate = {verify}
certificate = {cert}
private_key = {key}
ca_list = {ca}

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
"""


class Kamailio(ManagedPeer):
    """Throw-away kamailio instance (context manager).

    Constructor args (all optional):
      workdir        directory for cfg/db/log/certs (default: new tmp dir,
                     removed on exit unless keep_workdir=True)
      ipv6           also listen on [::1] (same port numbers) -> .port6
      auth_messages  require proxy auth for MESSAGE from local users
      auth_presence  require proxy auth for PUBLISH/SUBSCRIBE from local users
      persist_location  usrloc db_mode=1 (bindings survive restart());
                     default False: restart() forgets registrations
      qop            challenge with qop=auth (True) or no qop (False)
      min_expires / max_expires  registrar limits (default 1 / 3600)
      fr_timer_ms    tm final-response timer (default 5000)
      debug          kamailio debug level (2=info, 3=debug)
      use_received   "stream" (default): for TCP/TLS registrations remember
                     the source address (fix_nated_register) and deliver
                     requests over the client's connection; UDP uses the
                     Contact as is.  "all": also for UDP.  "none": never.
      aliases        extra domains treated as "myself" (no DNS needed)
      start_timeout  seconds to wait for the server to answer OPTIONS
      require_client_cert  TLS clients must present a certificate signed by
                     ``ca_file``'s CA (``cert_file``/``key_file``, which
                     are valid for clientAuth too, is one); default False
    """

    host = "127.0.0.1"
    host6 = "::1"

    def __init__(self, workdir: str | os.PathLike[str] | None = None, *, ipv6: bool = False,
                 auth_messages: bool = True, auth_presence: bool = True,
                 persist_location: bool = False, qop: bool = True,
                 min_expires: int = 1, max_expires: int = 3600,
                 fr_timer_ms: int = 5000, debug: int = 2, children: int = 2,
                 use_received: str = "stream",
                 aliases: Iterable[str] = (), start_timeout: float = 15.0,
                 keep_workdir: bool = False, require_client_cert: bool = False):
        if ipv6 and not ipv6_available():
            raise KamailioError("ipv6 requested but ::1 is not bindable")
        self.binary = _find_binary("kamailio")
        self.workdir = self.make_workdir(workdir, "kamailio-", "kamailio.log")
        self.keep_workdir = keep_workdir
        self.ipv6 = ipv6
        self.auth_messages = auth_messages
        self.auth_presence = auth_presence
        self.persist_location = persist_location
        self.qop = qop
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.fr_timer_ms = fr_timer_ms
        self.debug = debug
        self.children = children
        self.aliases = list(aliases)
        self.use_received = use_received
        self.start_timeout = start_timeout

        fams = (socket.AF_INET6,) if ipv6 else ()
        self.port = free_port("both", socket.AF_INET, fams)      # UDP+TCP
        self.tls_port = free_port("tcp", socket.AF_INET, fams)
        self.port6 = self.port if ipv6 else None
        self.tls_port6 = self.tls_port if ipv6 else None

        self.cfg = self.workdir / "kamailio.cfg"
        self.db = self.workdir / "kamailio.sqlite"
        self.rundir = self.workdir / "run"
        self.rundir.mkdir(exist_ok=True)
        tls = make_tls_cert(self.workdir / "tls")
        self.ca_file = tls["ca_file"]
        self.cert_file = tls["cert_file"]
        self.key_file = tls["key_file"]
        self.tls_cfg = self.workdir / "tls.cfg"
        self.tls_cfg.write_text(_TLS_CFG_TEMPLATE.format(
            cert=self.cert_file, key=self.key_file, ca=self.ca_file,
            verify="yes" if require_client_cert else "no"))
        self.users: dict[str, str] = {}      # user -> password (those of our domain)
        self._create_db()
        self.cfg.write_text(self._render_cfg())
        self.proc: subprocess.Popen[bytes] | None = None
        self._logfh = None

    # ------------------------------------------------------------ properties
    @property
    def db_url(self) -> str:
        # 4 slashes: "sqlite://" + "/" + absolute path
        return f"sqlite:///{self.db}"

    @property
    def domain(self) -> str:
        return self.host

    def uri(self, user: str | None = None, transport: str = "udp",
            ipv6: bool = False, lr: bool = False) -> str:
        """SIP URI of the server (or of ``user`` on it) for ``transport``.

        e.g. uri() -> 'sip:127.0.0.1:PORT;transport=udp'
             uri('bob', 'tls') -> 'sip:bob@127.0.0.1:TLSPORT;transport=tls'
        """
        transport = transport.lower()
        if ipv6:
            if not self.ipv6:
                raise KamailioError("instance started without ipv6")
            h = f"[{self.host6}]"
        else:
            h = self.host
        p = self.tls_port if transport == "tls" else self.port
        u = f"{user}@" if user else ""
        s = f"sip:{u}{h}:{p};transport={transport}"
        return s + (";lr" if lr else "")

    # ------------------------------------------------------------ db
    def _create_db(self) -> None:
        if self.db.exists():
            return
        sd = _schema_dir()
        con = sqlite3.connect(self.db)
        try:
            for f in SCHEMA_FILES:
                con.executescript((sd / f).read_text())
            # WAL: the test process can write (add_user) while kamailio reads
            con.execute("PRAGMA journal_mode=WAL")
            con.commit()
        finally:
            con.close()

    def _sql(self, query: str, args: tuple[Any, ...] = ()) -> list[Any]:
        con = sqlite3.connect(self.db, timeout=10)
        try:
            cur = con.execute(query, args)
            rows = cur.fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def add_user(self, username: str, password: str,
                 domain: str = "127.0.0.1") -> None:
        """Add (or replace) a subscriber; works while kamailio is running."""
        ha1 = hashlib.md5(f"{username}:{domain}:{password}".encode()).hexdigest()
        ha1b = hashlib.md5(
            f"{username}@{domain}:{domain}:{password}".encode()).hexdigest()
        self._sql("INSERT OR REPLACE INTO subscriber "
                  "(username, domain, password, ha1, ha1b) VALUES (?,?,?,?,?)",
                  (username, domain, password, ha1, ha1b))
        if domain == self.domain:
            self.users[username] = password

    def account(self, username: str, password: str | None = None,
                transport: str = "udp") -> Account:
        """A :class:`sipcore.testing.helpers.Account` of ``username`` on this server (added
        with ``password``, default ``username + "pw"``, unless added before with one)."""
        from .helpers import Account  # sipcore objects: only this method needs sipcore
        known = self.users.get(username)
        if password is None:
            password = known if known is not None else username + "pw"
        if known != password:
            self.add_user(username, password)
        return Account(self, username, password, transport)

    def remove_user(self, username: str, domain: str | None = None) -> None:
        if domain in (None, self.domain):
            self.users.pop(username, None)
        if domain is None:
            self._sql("DELETE FROM subscriber WHERE username=?", (username,))
        else:
            self._sql("DELETE FROM subscriber WHERE username=? AND domain=?",
                      (username, domain))

    def sql(self, query: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """Run SQL against the kamailio DB (e.g. inspect presentity)."""
        return self._sql(query, args)

    # ------------------------------------------------------------ cfg
    def _render_cfg(self) -> str:
        listen = []
        addrs: list[tuple[str, int | None, int | None]] = [(self.host, self.port, self.tls_port)]
        if self.ipv6:
            addrs.append((f"[{self.host6}]", self.port6, self.tls_port6))
        for a, p, tp in addrs:
            listen += [f"listen=udp:{a}:{p}", f"listen=tcp:{a}:{p}",
                       f"listen=tls:{a}:{tp}"]
        defines = []
        if self.auth_messages:
            defines.append("#!define AUTH_MESSAGES")
        if self.auth_presence:
            defines.append("#!define AUTH_PRESENCE")
        if self.use_received == "all":
            defines.append("#!define USE_RECEIVED_ALL")
        elif self.use_received == "stream":
            defines.append("#!define USE_RECEIVED_STREAM")
        elif self.use_received != "none":
            raise ValueError("use_received must be all/stream/none")
        mods = os.environ.get("KAMAILIO_MODULES")
        return _CFG_TEMPLATE.format(
            defines="\n".join(defines),
            debug=self.debug,
            children=self.children,
            listen="\n".join(listen),
            aliases="\n".join(f"alias={a}" for a in self._all_aliases()),
            mpath=f'mpath="{mods}"' if mods else "",
            tls_cfg=self.tls_cfg,
            fr_timer=self.fr_timer_ms,
            fr_inv_timer=max(self.fr_timer_ms, 30000),
            db_url=self.db_url,
            usrloc_db_mode=1 if self.persist_location else 0,
            min_expires=self.min_expires,
            max_expires=self.max_expires,
            host=self.host,
            port=self.port,
            qop_flag="1" if self.qop else "0",
        )

    def _all_aliases(self) -> list[str]:
        # "sip:bob@127.0.0.1" (no port, as used in AORs) means port 5060
        # (5061 for TLS), so those count as `myself` too.  NOT a port-less
        # alias: that would match every 127.0.0.1 URI incl. the clients'
        # Contacts, and loose_route would then take in-dialog requests
        # (BYE/ACK) for strict-routed ones and loop them back to us.
        hosts = [self.host] + ([f"[{self.host6}]"] if self.ipv6 else [])
        al = [f"{h}:{p}" for h in hosts for p in (5060, 5061)]
        return al + [a for a in self.aliases if a not in al]

    def check_cfg(self) -> str:
        """Run ``kamailio -c`` on the generated cfg; return its output."""
        r = subprocess.run([self.binary, "-c", "-f", str(self.cfg),
                            "-Y", str(self.rundir)],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise KamailioError("cfg check failed:\n" + r.stdout + r.stderr)
        return r.stdout + r.stderr

    # ------------------------------------------------------------ process
    def start(self) -> Kamailio:
        if self.running:
            return self
        self._logfh = open(self.log, "ab")
        self._logfh.write(f"\n==== start {time.ctime()} ====\n".encode())
        self._logfh.flush()
        cmd = [self.binary, "-DD", "-E", "--atexit=no",
               "-f", str(self.cfg), "-Y", str(self.rundir),
               "-w", str(self.workdir), "-P", str(self.rundir / "kamailio.pid"),
               "-m", "64", "-M", "8"]
        self.spawn(cmd, self.workdir)
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        targets = [(self.host, socket.AF_INET)]
        if self.ipv6:
            targets.append((self.host6, socket.AF_INET6))
        pending = list(targets)
        while time.monotonic() < deadline:
            proc = self.proc
            assert proc is not None     # (spawn() started it)
            if proc.poll() is not None:
                raise KamailioError(
                    f"kamailio exited with {proc.returncode}:\n"
                    + self.log_tail())
            pending = [(h, f) for h, f in pending
                       if not (sip_options_ping(h, self.port, 0.3, f)
                               or "").startswith("SIP/2.0 200")]
            if not pending and self._tcp_ok(self.tls_port):
                return
            time.sleep(0.1)
        raise KamailioError("kamailio did not answer OPTIONS in "
                            f"{self.start_timeout}s:\n" + self.log_tail())

    def _tcp_ok(self, port: int) -> bool:
        try:
            socket.create_connection((self.host, port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL; never leaves processes."""
        self.stop_process(timeout)

    def restart(self) -> None:
        """Stop and start again on the same ports with the same DB."""
        self.stop()
        # give the kernel a moment to release the sockets
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((self.host, self.port))
                s.close()
                break
            except OSError:
                time.sleep(0.1)
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_tmp and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ------------------------------------------------------------ log
    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def wait_for_log(self, pattern: str, timeout: float = 10.0,
                     start: int = 0) -> re.Match[str]:
        """Wait until regex ``pattern`` appears in the log (after char
        offset ``start``); raises TimeoutError."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text(), start)
            if m:
                return m
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern!r} not in kamailio log")
            time.sleep(0.1)

    # ------------------------------------------------------------ RPC
    def rpc(self, method: str, *params: Any, timeout: float = 5.0) -> Any:
        """JSON-RPC call (over HTTP to the SIP TCP port); returns 'result'.

        e.g. rpc("ul.dump"), rpc("ul.lookup", "location", "alice"),
             rpc("core.uptime"), rpc("ul.rm", "location", "alice")
        """
        body = json.dumps({"jsonrpc": "2.0", "method": method,
                           "params": list(params), "id": 1})
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            c.request("POST", "/RPC", body=body,
                      headers={"Content-Type": "application/json"})
            data = json.loads(c.getresponse().read())
        finally:
            c.close()
        if "error" in data:
            raise KamailioError(f"rpc {method}: {data['error']}")
        return data.get("result")

    def contacts(self, user: str) -> list[dict[str, Any]]:
        """Current usrloc bindings of ``user`` ([] if not registered).

        Each dict has at least 'Address' (the Contact URI), 'Expires',
        'Received', 'User-Agent', 'Socket'.
        """
        try:
            res = self.rpc("ul.lookup", "location", user)
        except KamailioError as e:
            if "404" in str(e) or "not found" in str(e).lower():
                return []
            raise
        out = []
        for c in (res or {}).get("Contacts", []):
            out.append(c.get("Contact", c))
        return out

    def is_registered(self, user: str) -> bool:
        return bool(self.contacts(user))

    def wait_registered(self, user: str, timeout: float = 10.0,
                        registered: bool = True) -> list[dict[str, Any]]:
        """Wait until ``user`` has (or, registered=False, has no) bindings."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.contacts(user)
            if bool(c) == registered:
                return c
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{user} {'not ' if registered else 'still '}registered")
            time.sleep(0.1)
