"""Redact secrets from process command lines before they are written anywhere.

A command line is the NUL-separated argv from /proc/<pid>/cmdline. Its shape stays (the same
arguments, NUL-separated) and secret values become ``***``. The rules are structural, not a
word list over the whole line, and every argument goes through them, argv[0] included (a
process title such as ``postgres: app secret=x idle`` is written there):

1. Anywhere in an argument:
   - PEM blocks (``-----BEGIN ...-----`` to ``-----END ...-----``): the body;
   - HTTP header values: ``Authorization``, ``Proxy-Authorization``, ``Cookie``,
     ``X-Api-Key``, ``X-Auth-Token`` and the like (the scheme word such as ``Bearer`` stays);
   - JSON members whose key is a secret name: ``{"password": "***"}``;
   - URL userinfo: ``scheme://user:***@host`` (the password may hold ``/`` and ``@``);
   - ``key=value`` and ``key: value`` whose key is a secret name, whatever surrounds it
     (libpq conninfo ``password=...``, ``-Dx.password=...``, ``PGPASSWORD=...``, query strings,
     ``mount -o ...,password=...``);
   - well-known token shapes: JWTs, AWS access key ids, Google API keys and OAuth tokens,
     GitHub, GitLab, Slack, Stripe, npm and SendGrid tokens;
   - long random-looking strings: 24 characters or more of ``[A-Za-z0-9+/_=-]`` mixing upper
     case, lower case and digits with a Shannon entropy of at least 4 bits a character (hex
     strings such as container ids and hashes stay: they are identifiers, not credentials).
2. Options: the value of an option whose name is a secret name, as ``--opt=v``, ``--opt v``,
   ``-opt v``; ``pass:`` values (OpenSSL) keep their ``pass:`` prefix; ``env:``, ``file:`` and
   ``fd:`` references stay, and so does an absolute path after a name that only says ``key``,
   ``token``, ``auth`` (``--ssl-key /etc/ssl/x.pem``).
3. Short options, decided per program because ``-p`` is a port for ``ssh``, ``psql`` and
   ``docker run`` but a password for ``mysql``: see `PROGRAM_OPTIONS`. Wrappers (``sudo``,
   ``env``, ``sshpass``, ``timeout``, ...) hand over to the program they run, and the command
   string of ``sh -c`` is redacted as a command line of its own.

A *secret name* (`is_secret_name`) is split into words (``keyStorePassword`` -> key, store,
password; ``AWS_SECRET_ACCESS_KEY`` -> aws, secret, access, key): it names a secret when a word
contains password/passwd/passphrase/secret/credential/apikey/privatekey, or is pw/pwd/pass/key/
auth/token/cookie/signature, or ends in token/key/pass/pwd (``storepass``, ``accesstoken``);
unless its last word says it is about the secret rather than the secret itself (``-file``,
``-path``, ``-dir``, ``-type``, ``-method``, ``-ttl``, ``-name``, ...: ``--password-file`` keeps
its value) or its first word makes it a switch (``--no-password``, ``--ask-pass``).

Examples:

>>> redact_args(["mysql", "-uroot", "-phunter2", "db"])
['mysql', '-uroot', '-p***', 'db']
>>> redact_args(["app", "--db-password", "hunter2", "--port=5432", "--api_token=abc"])
['app', '--db-password', '***', '--port=5432', '--api_token=***']
>>> redact_args(["worker", "postgres://app:s3/cr@t@db.example:5432/prod"])
['worker', 'postgres://app:***@db.example:5432/prod']
>>> redact_args(["java", "-Djavax.net.ssl.keyStorePassword=changeit", "-Xmx4g", "-jar", "x.jar"])
['java', '-Djavax.net.ssl.keyStorePassword=***', '-Xmx4g', '-jar', 'x.jar']
>>> redact_args(["psql", "host=db user=app password=hunter2 sslmode=require", "-p", "5432"])
['psql', 'host=db user=app password=*** sslmode=require', '-p', '5432']
>>> redact_args(["curl", "-H", "Authorization: Bearer abc.def", "-u", "admin:pw", "http://x"])
['curl', '-H', 'Authorization: Bearer ***', '-u', 'admin:***', 'http://x']
"""

import math
import re

MASK = "***"

# -- secret names ----------------------------------------------------------------------
_STRONG_WORDS = ("password", "passwd", "passphrase", "secret", "credential", "apikey", "privatekey")
_WEAK_WORDS = frozenset(
    ["pw", "pwd", "pass", "key", "auth", "token", "tokens", "cookie", "cookies", "signature"]
    + ["sig", "authorization", "community", "psk"]
)
_WEAK_ENDINGS = ("token", "key", "pass", "pwd")
_NOT_SECRET_WORDS = frozenset(["bypass", "compass", "hotkey", "monkey", "turnkey", "hockey"])
_ABOUT_THE_SECRET = frozenset(
    [
        "file",
        "files",
        "path",
        "dir",
        "directory",
        "location",
        "mode",
        "method",
        "type",
        "types",
        "length",
        "len",
        "size",
        "ttl",
        "timeout",
        "expiry",
        "expires",
        "expiration",
        "interval",
        "count",
        "algorithm",
        "algo",
        "alg",
        "format",
        "store",
        "storetype",
        "policy",
        "provider",
        "providers",
        "backend",
        "plugin",
        "enabled",
        "required",
        "name",
        "names",
        "prefix",
        "encryption",
        "hash",
        "min",
        "max",
        "minlength",
        "maxlength",
        "strength",
        "url",
        "uri",
        "endpoint",
        "host",
        "server",
        "port",
        "user",
        "username",
        "realm",
        "scope",
        "version",
        "level",
        "lifetime",
        "retries",
        "cache",
        "db",
        "database",
        "table",
        "column",
        "field",
        "env",
        "var",
        "id",
        "ids",
        "header",
        "headers",
        "kind",
        "class",
    ]
)
_SWITCH_PREFIXES = frozenset(
    [
        "no",
        "ask",
        "prompt",
        "enable",
        "disable",
        "skip",
        "allow",
        "require",
        "show",
        "print",
        "check",
        "with",
        "without",
    ]
)
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_NAME_CACHE = {}


def _name_words(name):
    return [w.lower() for w in _NON_ALNUM.split(_CAMEL.sub(r"\1_\2", name)) if w]


def secret_kind(name):
    """'strong', 'weak' or None: whether an option or key name names a secret.

    >>> [secret_kind(n) for n in ("PGPASSWORD", "keyStorePassword", "api-key", "storepass")]
    ['strong', 'strong', 'weak', 'weak']
    >>> [secret_kind(n) for n in ("password-file", "no-password", "port", "keyspace", "bypass")]
    [None, None, None, None, None]
    """
    cached = _NAME_CACHE.get(name)
    if cached is not None or name in _NAME_CACHE:
        return cached
    words = _name_words(name)
    kind = None
    if words and words[0] not in _SWITCH_PREFIXES and words[-1] not in _ABOUT_THE_SECRET:
        for word in words:
            if any(strong in word for strong in _STRONG_WORDS):
                kind = "strong"
                break
            if word in _NOT_SECRET_WORDS:
                continue
            if word in _WEAK_WORDS or word.endswith(_WEAK_ENDINGS):
                kind = "weak"
    if len(_NAME_CACHE) < 10000:
        _NAME_CACHE[name] = kind
    return kind


def is_secret_name(name):
    """True if `name` (an option or key, any case or separators) names a secret."""
    return secret_kind(name) is not None


def mask_value(value, kind="strong"):
    """The redacted form of an option value: references to a secret stay, secrets do not.

    >>> [mask_value(v) for v in ("hunter2", "pass:hunter2", "env:PW", "file:/etc/pw", "")]
    ['***', 'pass:***', 'env:PW', 'file:/etc/pw', '']
    >>> mask_value("/etc/ssl/private/x.pem", "weak"), mask_value("/etc/x", "strong")
    ('/etc/ssl/private/x.pem', '***')
    """
    if not value or value == MASK:
        return value
    if value.startswith(("env:", "file:", "fd:")) or value == "stdin":
        return value
    if value.startswith("pass:"):
        return "pass:" + MASK
    if kind == "weak" and value.startswith("/") and " " not in value:
        return value
    return MASK


# -- rules that apply anywhere in an argument -------------------------------------------
_PEM = re.compile(r"(-----BEGIN [A-Z0-9 ]{1,64}-----)(.*?)(-----END [A-Z0-9 ]{1,64}-----|$)", re.S)
_HEADER_NAMES = (
    "authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token|"
    "x-access-token|x-amz-security-token|x-goog-api-key|private-token|job-token|x-vault-token|"
    "x-csrf-token|x-xsrf-token|x-registry-auth|x-session-token|x-auth-key|ocp-apim-subscription-key"
)
_SCHEMES = "basic|bearer|digest|token|negotiate|ntlm|bot|aws4-hmac-sha256|sso-key|apikey"
_HEADER = re.compile(
    r"(?<![A-Za-z0-9-])(?:%s)\s*:\s*(?:(?:%s)\s+)?(?=\S)" % (_HEADER_NAMES, _SCHEMES), re.I
)
# A header name (and scheme) whose value is the next argument: -H "Authorization:" "Bearer" x
_HEADER_ALONE = re.compile(r"^(?:%s)\s*:?\s*(?:%s)?$" % (_HEADER_NAMES, _SCHEMES), re.I)
_AUTH_SCHEME = re.compile(r"^(?:%s)$" % _SCHEMES, re.I)
_JSON_MEMBER = re.compile(
    r'"(?P<key>[^"\\]{1,100})"(?P<sep>\s*:\s*)(?P<value>"(?:[^"\\]|\\.)*"?|[^\s,}\]]+)'
)
_URL_USERINFO = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):(?P<pw>\S*)@")
_KEY_VALUE = re.compile(
    r"(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,100})(?P<sep>\s*=\s*|:(?!//)\s*)"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"?|'[^']*'?"
    # & ; , end a value only where another key= follows (query strings, mount options).
    r"|(?:[^\s&;,'\"]|[&;,](?![A-Za-z_][A-Za-z0-9_.-]*=))+)"
)
_TOKENS = re.compile(
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)"
    r"[A-Z0-9]{16}(?![A-Z0-9])"
    r"|AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_-]{20,}"
    r"|(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|gl(?:pat|dt|rt|ptt|ft|imt|oas|cbt|soat)-[A-Za-z0-9_-]{16,}"
    r"|xox[abposrce]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,}"
    r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}|npm_[A-Za-z0-9]{36}"
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"
    r"|hooks\.slack\.com/services/[A-Za-z0-9/]+"
)
_RUN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX = re.compile(r"^[0-9a-fA-F-]+$")
_MIN_RANDOM = 24
_MIN_ENTROPY = 3.7
_MIN_CLASS_CHANGES = 0.4


def entropy(text):
    """Shannon entropy of `text` in bits per character.

    >>> round(entropy("aaaa"), 2), round(entropy("abcd"), 2)
    (0.0, 2.0)
    """
    counts = {}
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    n = float(len(text))
    return abs(sum(c / n * math.log(c / n, 2) for c in counts.values()))


def _char_class(ch):
    return 0 if ch.islower() else 1 if ch.isupper() else 2 if ch.isdigit() else 3


def class_changes(text):
    """Share of neighbouring characters of different classes (lower, upper, digit, other).

    Generated base62 strings change class at about 6 neighbours in 10; camelCase words,
    host names and version strings at 2 to 4.
    """
    classes = [_char_class(ch) for ch in text]
    return sum(a != b for a, b in zip(classes, classes[1:])) / float(max(1, len(text) - 1))


def looks_random(text):
    """True for a string that looks like a generated secret rather than a word or an id.

    >>> looks_random("q8XfK2mZr7TbW1vLpN4sYd9HcJ"), looks_random("kubernetes-admin-cluster01Prod")
    (True, False)
    >>> looks_random("SpareRendererForSitePerProcess"), looks_random("0123456789abcdef" * 4)
    (False, False)
    """
    if len(text) < _MIN_RANDOM or _HEX.match(text):
        return False
    if not (
        any(c.islower() for c in text)
        and any(c.isupper() for c in text)
        and sum(c.isdigit() for c in text) >= 2
    ):
        return False
    return entropy(text) >= _MIN_ENTROPY and class_changes(text) >= _MIN_CLASS_CHANGES


def _random_run(match):
    run = match.group(0)
    if run.startswith("/") or "//" in run:
        # An absolute path: judge its components, not the whole.
        return "/".join(MASK if looks_random(p) else p for p in run.split("/"))
    return MASK if looks_random(run) else run


def _json_member(match):
    kind = secret_kind(match.group("key"))
    if kind is None:
        return match.group(0)
    value = match.group("value")
    masked = '"%s"' % MASK if value.startswith('"') else MASK
    return '"%s"%s%s' % (match.group("key"), match.group("sep"), masked)


def _key_value(match):
    kind = secret_kind(match.group("key"))
    value = match.group("value")
    if kind is None or _AUTH_SCHEME.match(value):
        return match.group(0)
    quote = value[0] if value[0] in "'\"" else ""
    masked = mask_value(value.strip("'\""), kind)
    return match.group("key") + match.group("sep") + quote + masked + quote


def redact_text(text):
    """Apply the rules that hold anywhere in a string (one argument or a process title).

    >>> redact_text('{"user": "app", "password": "hunter2"}')
    '{"user": "app", "password": "***"}'
    >>> redact_text("postgres: app secret=x idle")
    'postgres: app secret=*** idle'
    """
    if len(text) < 8 and "=" not in text and ":" not in text:
        return text
    if "-----BEGIN " in text:
        text = _PEM.sub(lambda m: m.group(1) + MASK + m.group(3), text)
    if ":" in text:
        text = _mask_headers(text)
        if '"' in text:
            text = _JSON_MEMBER.sub(_json_member, text)
        if "@" in text:
            text = _URL_USERINFO.sub(lambda m: m.group("pre") + ":" + MASK + "@", text)
    if "=" in text or ":" in text:
        text = _KEY_VALUE.sub(_key_value, text)
    if len(text) >= 16:
        text = _TOKENS.sub(MASK, text)
        if len(text) >= _MIN_RANDOM:
            text = _RUN.sub(_random_run, text)
    return text


def _mask_headers(text):
    """Everything after a secret header's name (and scheme word) up to the end of `text`."""
    match = _HEADER.search(text)
    if match is None or _AUTH_SCHEME.match(text[match.end() :]):
        return text
    return text[: match.end()] + MASK


# -- per-program options ------------------------------------------------------------------
VALUE = "value"  # the option's value is a secret: -pSECRET, -p SECRET
USERPASS = "userpass"  # user:password: the part after the first ':'
USERPCT = "userpct"  # user%password (Samba)
CERTPASS = "certpass"  # file:password (curl --cert): the part after the last ':'

_MYSQL = {"-p": VALUE}
PROGRAM_OPTIONS = {
    "mysql": _MYSQL,
    "mariadb": _MYSQL,
    "mongo": _MYSQL,
    "redis-cli": {"-a": VALUE},
    "valkey-cli": {"-a": VALUE},
    "keydb-cli": {"-a": VALUE},
    "sshpass": {"-p": VALUE},
    "ldap": {"-w": VALUE},
    "ldappasswd": {"-w": VALUE, "-a": VALUE, "-s": VALUE},
    "sqlcmd": {"-P": VALUE},
    "bcp": {"-P": VALUE},
    "osql": {"-P": VALUE},
    "curl": {
        "-u": USERPASS,
        "--user": USERPASS,
        "-U": USERPASS,
        "--proxy-user": USERPASS,
        "-E": CERTPASS,
        "--cert": CERTPASS,
        "--oauth2-bearer": VALUE,
    },
    "smbclient": {"-U": USERPCT, "--user": USERPCT},
    "rpcclient": {"-U": USERPCT, "--user": USERPCT},
    "smbcacls": {"-U": USERPCT, "--user": USERPCT},
    "openssl": {"-k": VALUE, "-pass": VALUE, "-passin": VALUE, "-passout": VALUE, "-K": VALUE},
    "ipmitool": {"-P": VALUE, "-k": VALUE, "-y": VALUE},
    "snmp": {"-c": VALUE, "-A": VALUE, "-X": VALUE},
    "zip": {"-P": VALUE},
    "unzip": {"-P": VALUE},
    "7z": {"-p": VALUE},
    "7za": {"-p": VALUE},
    "rar": {"-p": VALUE},
    "unrar": {"-p": VALUE},
    "mosquitto_pub": {"-P": VALUE},
    "mosquitto_sub": {"-P": VALUE},
    "rdesktop": {"-p": VALUE},
    "xfreerdp": {"/p:": VALUE},
}
# Programs whose name starts with one of these use its table (mysqldump, mongosh, ldapsearch,
# snmpwalk, mariadb-dump, ...).
_PREFIX_FAMILIES = ("mysql", "mariadb", "mongo", "ldap", "snmp")
# Registry clients: -p is the password only in `<client> login` (it is a port in `run`).
_LOGIN_CLIENTS = frozenset(["docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras"])
_LOGIN_OPTIONS = {"-p": VALUE}
# Oracle-style clients: user/password@service as an argument.
_ORACLE = frozenset(["sqlplus", "rman", "impdp", "expdp", "exp", "imp", "dgmgrl", "sqlldr", "isql"])
_ORACLE_LOGIN = re.compile(r"^([A-Za-z0-9_$#]+)/([^@\s]+)(@.*)?$")
# Programs that run another program: the program they run decides its own options.
WRAPPERS = frozenset(
    [
        "sudo",
        "env",
        "nohup",
        "nice",
        "ionice",
        "setsid",
        "sshpass",
        "timeout",
        "stdbuf",
        "chrt",
        "taskset",
        "numactl",
        "exec",
        "time",
        "strace",
        "ltrace",
        "gosu",
        "su-exec",
        "runuser",
        "doas",
        "unbuffer",
        "tini",
        "dumb-init",
        "xargs",
        "watch",
        "flock",
    ]
)
SHELLS = frozenset(["sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "busybox"])
_SHELL_COMMAND = re.compile(r"^-[A-Za-z]*c$")


def program_name(argv0):
    """The program an argv[0] names: ``/usr/bin/mysqldump`` -> ``mysqldump``.

    >>> program_name("/usr/sbin/sshd:"), program_name("-bash")
    ('sshd', 'bash')
    """
    return argv0.rsplit("/", 1)[-1].rstrip(":").lstrip("-")


def _program_options(program):
    table = PROGRAM_OPTIONS.get(program)
    if table is None:
        for family in _PREFIX_FAMILIES:
            if program.startswith(family):
                base = dict(PROGRAM_OPTIONS[family])
                base.update(PROGRAM_OPTIONS.get(program, {}))
                return base
    return table or {}


def _known_program(name):
    return (
        name in PROGRAM_OPTIONS
        or name in WRAPPERS
        or name in SHELLS
        or name in _LOGIN_CLIENTS
        or name in _ORACLE
        or name.startswith(_PREFIX_FAMILIES)
    )


def _mask_kind(value, kind):
    if kind == USERPASS:
        user, sep, password = value.partition(":")
        return user + sep + MASK if sep and password else value
    if kind == USERPCT:
        user, sep, password = value.partition("%")
        return user + sep + MASK if sep and password else value
    if kind == CERTPASS:
        head, sep, password = value.rpartition(":")
        return head + sep + MASK if sep and password else value
    return mask_value(value, "weak" if kind == "weak" else "strong")


def redact_args(args):
    """Return a copy of `args` (a list of str) with secret values replaced by ``***``."""
    out = [redact_text(a) for a in args]
    if not out:
        return out
    program = program_name(out[0])
    table = _program_options(program)
    pending = None  # how to mask the next argument
    switchable = program in WRAPPERS
    i = 1
    while i < len(out):
        arg = out[i]
        i += 1
        if pending == VALUE and _AUTH_SCHEME.match(arg):
            continue  # -H "Authorization:" "Bearer" TOKEN: the token is the value
        if pending is not None:
            out[i - 1] = _mask_kind(arg, pending) if pending != "title" else redact_title(arg)
            pending = None
            continue
        if program in _LOGIN_CLIENTS and arg == "login":
            table = _LOGIN_OPTIONS
            continue
        if switchable and not arg.startswith("-") and "=" not in arg:
            # The program a wrapper runs (or, until a known one, a word that might be it).
            program = program_name(arg)
            table = _program_options(program)
            switchable = program in WRAPPERS or not _known_program(program)
            continue
        if program in SHELLS and _SHELL_COMMAND.match(arg):
            pending = "title"
            continue
        if arg.startswith("-"):
            kind = _option(arg, table, out, i - 1)
            if kind is not None and not (i < len(out) and out[i].startswith("--")):
                pending = kind
            continue
        if _HEADER_ALONE.match(arg) or _AUTH_SCHEME.match(arg):
            pending = VALUE
            continue
        if program in _ORACLE:
            login = _ORACLE_LOGIN.match(arg)
            if login:
                out[i - 1] = login.group(1) + "/" + MASK + (login.group(3) or "")
    return out


def _option(arg, table, out, index):
    """Handle an option argument; return how to mask the next argument, if it is the value."""
    kind = table.get(arg)
    if kind is not None:
        return kind
    for opt, kind in table.items():
        if opt.startswith("--"):
            if arg.startswith(opt + "="):
                out[index] = opt + "=" + _mask_kind(arg[len(opt) + 1 :], kind)
                return None
        elif (len(opt) == 2 or opt.endswith(":")) and arg.startswith(opt) and len(arg) > len(opt):
            # A glued short option: -phunter2, -uadmin:pw, /p:secret.
            out[index] = opt + _mask_kind(arg[len(opt) :], kind)
            return None
    if "=" in arg:
        return None  # --opt=value: the key=value rule has seen it
    kind = secret_kind(arg.lstrip("-"))
    return kind if kind is None else ("weak" if kind == "weak" else VALUE)


def redact_title(text):
    """Redact a command line written as one string (a process title, ``sh -c`` text).

    >>> redact_title("mysql -uroot -phunter2  -h db")
    'mysql -uroot -p***  -h db'
    """
    text = redact_text(text)
    parts = re.split(r"(\s+)", text)
    words = redact_args(parts[0::2])
    parts[0::2] = words
    return "".join(parts)


def redact_cmdline(raw):
    """Redact a raw /proc/<pid>/cmdline (bytes, NUL-separated); keep the NUL layout.

    Processes that rewrite their argv into one space-separated string (postgres, nginx,
    setproctitle) are redacted as a title: the rules above, word by word.

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
        redacted = [redact_title(args[0])]
    else:
        redacted = redact_args(args)
    out = "\0".join(redacted).encode("utf-8", "surrogateescape")
    return out + b"\0" if trailing else out
