"""``--anonymize``: replace what identifies the customer, consistently within one bundle.

Like ``sos clean``, the same original always becomes the same stand-in within a bundle, so an
analysis still sees that two processes talk to the same address or belong to the same user:

- the host name becomes ``host-<12 hex digits>`` (a SHA-256 of the real name: stable across
  bundles of the same host), wherever it appears, short or fully qualified;
- names under the host's DNS domains (from the host name, ``/etc/resolv.conf`` ``search`` and
  ``domain``) become ``nameN.domainK.example``, the domains themselves ``domainK.example``;
- IPv4 addresses become addresses in 198.18.0.0/15 (RFC 2544, never a real host), IPv6
  addresses ``2001:db8::N`` (RFC 3849), MAC addresses ``02:00:00:xx:xx:xx``; the unspecified,
  loopback and broadcast addresses and netmasks are kept, they identify nothing;
- names of login users (uid >= 1000, from the password database) become ``userN``, their home
  directories ``/home/userN``.

It applies to process command lines (after redaction), ``/proc/<pid>/cgroup``, the paths of
the sampled cgroup directories, the kernel command line, ``/proc/version`` and kernel log
lines. The mapping (stand-in -> original) stays on the customer's side in a file next to the
bundle, so they can translate support's answer back; the manifest has only the counts.

>>> a = Anonymizer("db01.corp.example.com", domains=["corp.example.com"],
...                users=[("alice", "/srv/alice")])
>>> a.text("psql -h 10.1.2.3 -h db02.corp.example.com -U alice db01 fe80::1ff:fe23:4567:890a")
'psql -h 198.18.0.1 -h name1.domain1.example -U user1 host-77ee194d68bf 2001:db8::1'
>>> a.text("/srv/alice/app 10.1.2.3 127.0.0.1 255.255.255.0 aa:bb:cc:dd:ee:ff")
'/home/user1/app 198.18.0.1 127.0.0.1 255.255.255.0 02:00:00:00:00:01'
>>> sorted(a.counts())
['domain', 'domain_name', 'home', 'hostname', 'ipv4', 'ipv6', 'mac', 'user']
>>> a.counts()["ipv4"], a.mapping()["ipv4"]
(1, {'198.18.0.1': '10.1.2.3'})
"""

import hashlib
import json
import os
import re
import socket

from vmcollect.safeio import write_file
from vmcollect.spool import open_regular

MAP_FORMAT = "vmcollect-anonymization-map"
SPOOL_MAP = "anonymization.json"
KINDS = ("hostname", "domain", "domain_name", "ipv4", "ipv6", "mac", "user", "home")
_MAX_MAP = 64 << 20
_MIN_UID = 1000
_NOBODY_UID = 65534
_IPV4 = re.compile(
    r"(?<![0-9A-Za-z.])((?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]))(?![0-9]|\.[0-9])"
)
_MAC = re.compile(
    r"(?<![0-9A-Fa-f:-])((?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\2){4}[0-9A-Fa-f]{2})(?![0-9A-Fa-f:-])"
)
_IPV6_CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z_:.])([0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)(?![G-Zg-z_])"
)
_HEX_GROUP = re.compile(r"[0-9A-Fa-f]+")
_KEEP = frozenset(
    ["0.0.0.0", "255.255.255.255", "::", "::1", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"]
)


def anonymize_name(name):
    """A stable, non-reversible stand-in for a host name.

    >>> anonymize_name("db01.example.com")
    'host-498ab70c6dd6'
    """
    return "host-" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def resolv_domains(path="/etc/resolv.conf"):
    """The DNS domains named by ``search`` and ``domain`` lines of resolv.conf."""
    out = []
    try:
        with open(path, "rb") as f:
            text = f.read(65536).decode("utf-8", "replace")
    except OSError:
        return out
    for line in text.splitlines():
        words = line.split()
        if words and words[0] in ("search", "domain"):
            out.extend(w.strip(".") for w in words[1:])
    return out


def login_users():
    """(name, home) of the password database's login users (uid >= 1000, not nobody)."""
    try:
        import pwd
    except ImportError:
        return []
    users = []
    for entry in pwd.getpwall():
        if entry.pw_uid >= _MIN_UID and entry.pw_uid != _NOBODY_UID and len(entry.pw_name) > 1:
            users.append((entry.pw_name, entry.pw_dir))
    return users


class Anonymizer(object):
    """Replaces identifying strings; remembers original -> stand-in for the whole run."""

    def __init__(self, hostname, domains=(), users=()):
        self.hostname = hostname or ""
        self.host_alias = anonymize_name(self.hostname) if self.hostname else ""
        self.maps = dict((kind, {}) for kind in KINDS)
        names = set()
        if self.hostname:
            names.add(self.hostname)
            short = self.hostname.split(".", 1)[0]
            if len(short) >= 3:
                names.add(short)
        if "." in self.hostname:
            domains = [self.hostname.split(".", 1)[1]] + list(domains)
        self.domains = sorted(set(d.lower() for d in domains if "." in d), key=len, reverse=True)
        self._host = self._words(names, r"[A-Za-z0-9-]", r"[A-Za-z0-9-]|\.[A-Za-z0-9]")
        self._domain = None
        if self.domains:
            self._domain = re.compile(
                r"(?<![A-Za-z0-9.-])((?:[A-Za-z0-9-]+\.)*?)(%s)(?![A-Za-z0-9-]|\.[A-Za-z0-9])"
                % "|".join(re.escape(d) for d in self.domains),
                re.IGNORECASE,
            )
        homes = {}
        user_names = set()
        for name, home in users:
            user_names.add(name)
            if home and home.startswith("/") and home.count("/") >= 2:
                homes[home.rstrip("/")] = name
        self._homes = homes
        self._home = None
        if homes:
            self._home = re.compile(
                "(%s)(?![^/\\s])"
                % "|".join(re.escape(h) for h in sorted(homes, key=len, reverse=True))
            )
        self._user = self._words(user_names, r"[A-Za-z0-9_]", r"[A-Za-z0-9_]")

    @staticmethod
    def _words(words, before, after):
        if not words:
            return None
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        return re.compile("(?<!%s)(%s)(?!%s)" % (before, alternatives, after))

    def _alias(self, kind, original, make):
        table = self.maps[kind]
        alias = table.get(original)
        if alias is None:
            alias = table[original] = make(len(table) + 1)
        return alias

    def _user_alias(self, name):
        return self._alias("user", name, lambda n: "user%d" % n)

    def _sub_domain(self, match):
        prefix, domain = match.group(1), match.group(2).lower()
        domain_alias = self._alias("domain", domain, lambda n: "domain%d.example" % n)
        if not prefix:
            return domain_alias
        return self._alias(
            "domain_name", (prefix + domain).lower(), lambda n: "name%d.%s" % (n, domain_alias)
        )

    def _sub_ipv4(self, match):
        ip = match.group(1)
        if ip in _KEEP or ip.startswith(("127.", "255.")):
            return ip
        return self._alias(
            "ipv4", ip, lambda n: "198.%d.%d.%d" % (18 + (n >> 16), (n >> 8) & 255, n & 255)
        )

    def _sub_mac(self, match):
        mac = match.group(1).lower()
        if mac.replace("-", ":") in _KEEP:
            return match.group(1)
        return self._alias(
            "mac",
            mac,
            lambda n: "02:00:00:%02x:%02x:%02x" % ((n >> 16) & 255, (n >> 8) & 255, n & 255),
        )

    def _sub_ipv6(self, match):
        text = match.group(1)
        candidate = text.rstrip(":.") if not text.endswith("::") else text
        if candidate in _KEEP or len(_HEX_GROUP.findall(candidate)) < 2:
            return text
        try:
            socket.inet_pton(socket.AF_INET6, candidate)
        except (OSError, ValueError):
            return text
        alias = self._alias("ipv6", candidate.lower(), lambda n: "2001:db8::%x" % n)
        return alias + text[len(candidate) :]

    def _sub_home(self, match):
        home = match.group(1)
        self.maps["home"][home] = "/home/" + self._user_alias(self._homes[home])
        return self.maps["home"][home]

    def text(self, text):
        """`text` with every identifying string replaced by its stand-in."""
        if self._host is not None:
            text = self._host.sub(self._sub_host, text)
        if self._domain is not None:
            text = self._domain.sub(self._sub_domain, text)
        if ":" in text or "-" in text:
            text = _MAC.sub(self._sub_mac, text)
            if ":" in text:
                text = _IPV6_CANDIDATE.sub(self._sub_ipv6, text)
        if "." in text:
            text = _IPV4.sub(self._sub_ipv4, text)
        if self._home is not None and "/" in text:
            text = self._home.sub(self._sub_home, text)
        if self._user is not None:
            text = self._user.sub(lambda m: self._user_alias(m.group(1)), text)
        return text

    def _sub_host(self, match):
        self.maps["hostname"][match.group(1)] = self.host_alias
        return self.host_alias

    def data(self, data):
        """The same for bytes (undecodable bytes pass through unchanged)."""
        if not data:
            return data
        text = data.decode("utf-8", "surrogateescape")
        return self.text(text).encode("utf-8", "surrogateescape")

    def counts(self):
        """How many distinct originals of each kind were replaced (never the originals)."""
        return dict((kind, len(table)) for kind, table in self.maps.items() if table)

    def mapping(self):
        """{kind: {stand-in: original}}: what the customer needs to translate answers back."""
        return dict(
            (kind, dict((alias, original) for original, alias in table.items()))
            for kind, table in self.maps.items()
            if table
        )


def for_host(hostname):
    """An Anonymizer for this host: its domains from resolv.conf, its login users."""
    return Anonymizer(hostname, resolv_domains(), login_users())


def map_path_for(bundle_path):
    """``vmcollect-x.tar.gz`` -> ``vmcollect-x.anonymization.json`` (beside, never inside)."""
    base = bundle_path[: -len(".tar.gz")] if bundle_path.endswith(".tar.gz") else bundle_path
    return base + ".anonymization.json"


def write_anonymization_map(spool_dir, bundle_path):
    """Copy the spool's mapping next to the bundle (new file, mode 0600); return its path."""
    try:
        with open_regular(os.path.join(spool_dir, SPOOL_MAP)) as f:
            mapping = json.loads(f.read(_MAX_MAP).decode("utf-8"))
    except OSError:
        return None
    except (ValueError, RecursionError):
        mapping = {}
    doc = {
        "format": MAP_FORMAT,
        "bundle": os.path.basename(bundle_path),
        "note": "stand-in -> original; keep this file on your side, do not send it to support",
        "replacements": mapping if isinstance(mapping, dict) else {},
    }
    data = json.dumps(doc, indent=1, sort_keys=True).encode("utf-8")
    return write_file(map_path_for(bundle_path), data, mode=0o600, unique=True)
