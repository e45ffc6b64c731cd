"""Redact secrets from process command lines before they are written anywhere.

A command line is the NUL-separated argv from /proc/<pid>/cmdline. We keep its shape (the
arguments stay, NUL-separated) and replace secret values with ``***``:

- ``key=value`` or ``--key=value`` where the key looks like a secret;
- the argument after an option that looks like a secret (``--password hunter2``);
- ``-p<value>`` and ``-p <value>`` for database clients (``mysql -psecret``), ``-a <value>`` for
  redis-cli, ``user/password@db`` for sqlplus-style logins;
- ``user:password@`` in URLs;
- an argument that is itself a long random-looking token after ``Bearer``/``Basic``.

Examples:

>>> redact_args(["mysql", "-uroot", "-phunter2", "db"])
['mysql', '-uroot', '-p***', 'db']
>>> redact_args(["app", "--db-password", "hunter2", "--port=5432", "--api_token=abc"])
['app', '--db-password', '***', '--port=5432', '--api_token=***']
>>> redact_args(["worker", "postgres://app:s3cret@db.example:5432/prod"])
['worker', 'postgres://app:***@db.example:5432/prod']
>>> redact_args(["java", "-Djavax.net.ssl.keyStorePassword=changeit", "-jar", "x.jar"])
['java', '-Djavax.net.ssl.keyStorePassword=***', '-jar', 'x.jar']
"""

import re

SECRET_WORDS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "credential",
    "passphrase",
    "pass",
)
_SECRET = re.compile(
    r"password|passwd|pwd|secret|token|key|auth|credential|passphrase|pass\b", re.IGNORECASE
)
_SECRET_OPTION = re.compile(
    r"^-{1,2}[A-Za-z0-9_.-]*(password|passwd|pwd|secret|token|key|auth|credential|passphrase)"
    r"[A-Za-z0-9_.-]*$|^-{1,2}pass$",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):([^/\s@]*)@")
_SQLPLUS_LOGIN = re.compile(r"^([A-Za-z0-9_$#]+)/([^@\s]+)(@.*)?$")
_AUTH_SCHEME = re.compile(r"^(bearer|basic|token)$", re.IGNORECASE)
# Database and cache clients whose `-p` (or `-a`) option carries a password.
_DB_CLIENTS = {
    "mysql": ("-p",),
    "mysqldump": ("-p",),
    "mysqladmin": ("-p",),
    "mysqlimport": ("-p",),
    "mysqlcheck": ("-p",),
    "mysqlshow": ("-p",),
    "mysqlbinlog": ("-p",),
    "mariadb": ("-p",),
    "mariadb-dump": ("-p",),
    "mariadb-admin": ("-p",),
    "mongo": ("-p",),
    "mongosh": ("-p",),
    "mongodump": ("-p",),
    "mongorestore": ("-p",),
    "mongoexport": ("-p",),
    "mongoimport": ("-p",),
    "mongostat": ("-p",),
    "mongotop": ("-p",),
    "redis-cli": ("-a",),
    "valkey-cli": ("-a",),
    "sqlplus": (),
    "rman": (),
    "impdp": (),
    "expdp": (),
    "sqlcmd": ("-P",),
    "isql": (),
}
MASK = "***"


def _client_name(argv0):
    return argv0.rsplit("/", 1)[-1]


def redact_args(args):
    """Return a copy of `args` (a list of str) with secret values replaced by ``***``."""
    out = list(args)
    client = _client_name(out[0]) if out else ""
    short_opts = _DB_CLIENTS.get(client, ())
    redact_next = False
    for i, arg in enumerate(out):
        if i == 0:
            out[i] = _URL_USERINFO.sub(r"\1:" + MASK + "@", arg)
            continue
        if redact_next:
            out[i] = MASK
            redact_next = False
            continue
        if _SECRET_OPTION.match(arg):
            redact_next = True
            continue
        if _AUTH_SCHEME.match(arg):
            redact_next = True
            continue
        matched = False
        for opt in short_opts:
            if arg == opt:
                redact_next = True
                matched = True
            elif arg.startswith(opt) and len(arg) > len(opt) and not arg.startswith("--"):
                out[i] = opt + MASK
                matched = True
        if matched:
            continue
        if "=" in arg:
            key, _, value = arg.partition("=")
            if value and _SECRET.search(key):
                out[i] = key + "=" + MASK
                continue
        if client in _DB_CLIENTS and not arg.startswith("-"):
            login = _SQLPLUS_LOGIN.match(arg)
            if login and client in ("sqlplus", "rman", "impdp", "expdp", "isql"):
                out[i] = login.group(1) + "/" + MASK + (login.group(3) or "")
                continue
        out[i] = _URL_USERINFO.sub(r"\1:" + MASK + "@", arg)
    return out


def redact_cmdline(raw):
    """Redact a raw /proc/<pid>/cmdline (bytes, NUL-separated); keep the NUL layout.

    Processes that rewrite their argv into one space-separated string (postgres, nginx) are
    handled by redacting each space-separated word.

    >>> redact_cmdline(b"mysql\\x00-phunter2\\x00")
    b'mysql\\x00-p***\\x00'
    >>> redact_cmdline(b"postgres: app secret=abc idle")
    b'postgres: app secret=*** idle'
    """
    if not raw:
        return raw
    trailing = raw.endswith(b"\0")
    body = raw[:-1] if trailing else raw
    text = body.decode("utf-8", "surrogateescape")
    args = text.split("\0")
    if len(args) == 1 and " " in args[0]:
        words = redact_args(args[0].split(" "))
        redacted = [" ".join(words)]
    else:
        redacted = redact_args(args)
    out = "\0".join(redacted).encode("utf-8", "surrogateescape")
    return out + b"\0" if trailing else out
