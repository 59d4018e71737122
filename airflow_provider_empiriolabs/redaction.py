"""
Redaction: the one rule for what of a URL may be shown, and the log filter that applies it.

A signed output URL's query (``expires``, ``signature``) grants access to the video for 7 days
and its user info is a credential: neither may reach a log line, an error or a page. Every URL
the provider mentions goes through :func:`redact_url`.

The HTTP libraries log at DEBUG what no log may hold: ``httpcore`` logs every response's headers
(a redirect's signed ``Location``, ``Set-Cookie``), ``urllib3`` and ``botocore`` log URLs with
their queries, ``hpack`` logs header values. :class:`HttpLogRedactor` is one filter for all of
them: it renders each record's message, applies :func:`redact_log_text` (URLs by
:func:`redact_url`, the values of credential headers and parameters, every API key the process
has read) and keeps the rendered text. :func:`install_http_log_redaction` puts it on every HTTP
logger once per process, at every level; the provider's package does so when it is imported.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "HTTP_LOGGERS",
    "MASK",
    "HttpLogRedactor",
    "api_key_problem",
    "install_http_log_redaction",
    "mask_signed_url",
    "redact_log_text",
    "redact_text",
    "redact_url",
    "register_secret",
    "scrub",
]

_URL_IN_TEXT = re.compile(r"https?://[^\s'\"<>]+", re.IGNORECASE)

#: The loggers of the HTTP stacks the provider (and the storage it writes to) goes through. A
#: name covers its children too: records of ``httpcore.http11`` are redacted like ``httpcore``'s.
HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "h11",
    "h2",
    "hpack",
    "urllib3",
    "requests",
    "botocore",
    "aiobotocore",
    "boto3",
    "s3fs",
    "gcsfs",
    "adlfs",
    "fsspec",
    "aiohttp",
    "azure.core.pipeline.policies.http_logging_policy",
    "werkzeug",
)
#: Children known to log, filtered by name as well: a logger's filter does not see its children's
#: records (they go straight to the handlers), hence also the record factory below.
_KNOWN_CHILDREN = (
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "hpack.hpack",
    "hpack.table",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "botocore.endpoint",
    "botocore.auth",
    "botocore.hooks",
    "botocore.parsers",
    "botocore.httpsession",
    "botocore.retryhandler",
    "aiohttp.client",
    "aiohttp.access",
)

# Headers whose values are credentials or carry them (a redirect's Location is a signed URL).
_SECRET_HEADERS = (
    r"proxy-authorization|authorization|set-cookie2?|cookie|content-location|location|x-api-key|api-key"
    r"|x-amz-security-token|x-amz-credential|x-amz-signature|x-goog-signature|x-ms-copy-source-authorization"
)
# Parameters whose values are credentials, wherever they appear as name=value or name: value.
_SECRET_PARAMS = (
    r"signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential"
    r"|sig|token|access_token|refresh_token|api_key|apikey|password|secret|client_secret"
)
#: What stands in for a secret wherever one was: a key, a password, a signature, a credential header.
MASK = "[redacted]"
_NOT_MASKED = rf"(?!{re.escape(MASK)})"  # so that redacting redacted text changes nothing

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # ('Location', 'https://...')  (b'set-cookie', b'a=b')  as httpcore/h11 log header lists.
    (
        re.compile(rf"""(b?(['"])(?:{_SECRET_HEADERS})\2\s*,\s*b?)(['"])(?:\\.|(?!\3).)*\3""", re.IGNORECASE),
        rf"\1\3{MASK}\3",
    ),
    # {'Authorization': 'Bearer ...'}  {b'location': b'...'}  as dicts of headers or params print.
    (
        re.compile(
            rf"""(b?(['"])(?:{_SECRET_HEADERS}|{_SECRET_PARAMS})\2\s*:\s*b?)(['"])(?:\\.|(?!\3).)*\3""",
            re.IGNORECASE,
        ),
        rf"\1\3{MASK}\3",
    ),
    # b'authorization'=b'Bearer ...'  as hpack adds a header to its table.
    (
        re.compile(rf"""(b?(['"])(?:{_SECRET_HEADERS})\2\s*=\s*b?)(['"])(?:\\.|(?!\3).)*\3""", re.IGNORECASE),
        rf"\1\3{MASK}\3",
    ),
    # Signature:\n<hex>   as botocore's signer logs it.
    (re.compile(rf"(\bSignature:\s*){_NOT_MASKED}[^\s'\"]+"), rf"\1{MASK}"),
    # Location: https://...   (HTTP lines, "header: Set-Cookie: ..." debug output)
    (re.compile(rf"""(?<![\w'"-])((?:{_SECRET_HEADERS})[ \t]*:[ \t]*)[^\r\n]*""", re.IGNORECASE), rf"\1{MASK}"),
    # Bearer tokens and API keys in any other shape.
    (re.compile(rf"(\b(?:Bearer|Basic)\s+){_NOT_MASKED}[^\s'\",;)\]}}]+", re.IGNORECASE), rf"\1{MASK}"),
    (re.compile(rf"sk-empiriolabs-{_NOT_MASKED}[^\s'\",;)\]}}]+"), f"sk-empiriolabs-{MASK}"),
    # A query string after a path ("/v1/outputs/x.mp4?expires=...&signature=..."): dropped, as
    # redact_url drops it from full URLs.
    (re.compile(r"""(?<=[^\s'"<>=?&])\?(?=[^\s'"<>?]*=)[^\s'"<>]*"""), ""),
    # Credential parameters outside a query string (form bodies, reprs of params).
    (
        re.compile(rf"""(?<![\w-])((?:{_SECRET_PARAMS})=){_NOT_MASKED}[^&\s'"<>;,)\]}}]+""", re.IGNORECASE),
        rf"\1{MASK}",
    ),
)
# Bytes as a library shows them (b'...'): hpack logs header blocks, whose literals or Huffman codes
# spell header values; nothing of them is kept.
_BYTES_LITERAL = re.compile(r"""\bb(['"])(?:\\.|(?!\1).)*\1""")
#: Loggers whose bytes are never shown (see _BYTES_LITERAL).
_OPAQUE_BYTES_LOGGERS = ("hpack",)
# A URL of any scheme ("s3://key:secret@bucket", "https://user:pw@host/x?sig=..."), before the rest.
_ANY_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def redact_url(url: object, *, keep_user: bool = False) -> str:
    """
    Return ``url`` without its query string, fragment and user info, for logs and errors.

    A signed output URL's query (``expires``, ``signature``) is what grants access: it must never
    be logged, so every URL the provider mentions goes through here first. A password never stays.

    :param url: a URL (``str`` or ``httpx.URL``).
    :param keep_user: keep the user name (not the password): in an object storage URL such as
        ``s3://aws_images@bucket/key`` it names the Airflow connection, which the reader needs.
    """
    try:
        parts = urlsplit(str(url))
    except ValueError:  # "https://]/" and the like: nothing of it is worth the risk
        return MASK
    if not parts.scheme:
        return str(url).split("?", 1)[0].split("#", 1)[0]
    try:
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # an unreadable port or host: keep nothing after the scheme's authority
        return f"{parts.scheme}://{MASK}{parts.path}"
    if ":" in host:
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    if keep_user and parts.username:
        host = f"{parts.username}@{host}"
    return f"{parts.scheme}://{host}{parts.path}"


def scrub(text: Any, secret: str, limit: int | None = None) -> str:
    """
    ``text`` as a string with every occurrence of ``secret`` masked, cut to ``limit`` characters after.

    :param text: anything; one whose ``str`` fails is named by its type.
    :param secret: the secret to mask (an API key, a password); an empty one masks nothing.
    :param limit: the most characters kept (then ``...``); ``None`` keeps all.
    """
    try:
        text = str(text)
    except Exception:
        text = f"<{type(text).__name__}>"
    if secret:
        text = text.replace(secret, MASK)
    return text if limit is None or len(text) <= limit else text[:limit] + "..."


def redact_text(text: str) -> str:
    """Every URL in ``text`` redacted by :func:`redact_url`."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def register_secret(secret: str) -> None:
    """
    Remember a secret (an API key read from a connection) so that HTTP log records never show it.

    Its escaped forms (``repr``, JSON) are masked too, so a key that does carry an odd character
    cannot slip through as ``'sk-...\\n'``.
    """
    if not secret or len(secret) < 8:
        return  # too short to mask without masking ordinary text
    forms = {secret, secret.strip()}
    forms |= {repr(secret)[1:-1], json.dumps(secret)[1:-1], secret.encode("unicode_escape").decode("ascii", "replace")}
    with _secrets_lock:
        _secrets.update(f for f in forms if len(f) >= 8)


_CHARACTER_NAMES = {
    "\n": "newline",
    "\r": "carriage return",
    "\t": "tab",
    " ": "space",
    "\x00": "NUL character",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x7f": "DEL character",
}


def _character_kind(char: str) -> str:
    if char in _CHARACTER_NAMES:
        return _CHARACTER_NAMES[char]
    if not char.isascii():
        return "whitespace character" if char.isspace() else "non-ASCII character"
    return "control character"


def api_key_problem(key: str) -> str | None:
    """
    What is wrong with ``key`` as an API key, in words that never show the key, or ``None``.

    A key is printable ASCII without spaces (``sk-empiriolabs-...``). One read from a file with its
    newline, or pasted with a space or a non-ASCII look-alike, cannot be sent (httpx refuses the
    header, and its error would quote the key), and Airflow's secret masker does not recognise its
    escaped form (``'sk-...\\n'``) in logs: it is refused, never silently stripped.
    """
    bad = [(i, c) for i, c in enumerate(key) if not ("!" <= c <= "~")]
    if not bad:
        return None
    index, char = bad[0]
    if index == len(key) - 1 or (key[index:].strip() == "" and char.isspace()):
        where = "a trailing"
    elif index == 0 or key[: index + 1].strip() == "":
        where = "a leading"
    else:
        where = "a"
    kind = _character_kind(char)
    article_where = "an" if where == "a" and kind[0] in "aeiouAEIOU" else where
    more = f" (and {len(bad) - 1} more such character(s))" if len(bad) > 1 else ""
    return (
        f"the API key has {article_where} {kind}{more}: remove it (a key is printable ASCII with no spaces; "
        "a key read from a file often keeps the file's final newline; the key itself is not shown)"
    )


def redact_log_text(text: str) -> str:
    """
    ``text`` as an HTTP library's log line may show it: URLs by :func:`redact_url`, the values of
    credential headers and parameters masked, and every registered secret masked.
    """
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = scrub(text, secret)
    text = _ANY_URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class HttpLogRedactor(logging.Filter):
    """
    Redacts records of the HTTP libraries' loggers (see :func:`redact_log_text`), never drops one.

    The message is rendered (``msg % args``) and redacted whole, then kept as ``msg`` with no
    ``args``: an argument's own ``repr`` (a header list, a request object) can hold a secret that
    only shows once it is formatted. Applying it twice changes nothing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_empiriolabs_redacted", False):
            return True
        try:
            rendered = record.getMessage()
        except Exception:  # a record that cannot be formatted: show its parts, redacted
            rendered = " ".join([str(record.msg), *(repr(a) for a in _args_of(record))])
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:  # a traceback's text (exception messages) redacted like the message
            rendered = f"{rendered}\n{record.exc_text}"
            record.exc_info = None
            record.exc_text = None
        if record.name.split(".", 1)[0] in _OPAQUE_BYTES_LOGGERS:
            rendered = _BYTES_LITERAL.sub(f"b'{MASK}'", rendered)
        record.msg = redact_log_text(rendered)
        record.args = ()
        if record.stack_info:
            record.stack_info = redact_log_text(record.stack_info)
        record._empiriolabs_redacted = True
        return True


def _args_of(record: logging.LogRecord) -> tuple[Any, ...]:
    args = record.args
    if isinstance(args, tuple):
        return args
    return () if args is None else (args,)


_REDACTOR = HttpLogRedactor()
_PREFIXES = tuple(HTTP_LOGGERS)
_install_lock = threading.Lock()
_factory_installed = False


def _is_http_logger(name: object) -> bool:
    # ``logging.makeLogRecord`` (structlog's formatter calls it) builds a record with no name first.
    if not isinstance(name, str):
        return False
    return any(name == p or name.startswith(p + ".") for p in _PREFIXES)


def install_http_log_redaction() -> None:
    """
    Put the redaction filter on every HTTP logger of the process, once (calling again is harmless).

    Two layers, because a logger's filter never sees its children's records: the filter goes on
    each logger of :data:`HTTP_LOGGERS`, on their known children and on every child that exists
    already; and the log record factory redacts any record whose logger is one of them or a
    descendant, whenever it was created. A factory another library installs later wraps this one.
    """
    global _factory_installed
    with _install_lock:
        names = set(HTTP_LOGGERS) | set(_KNOWN_CHILDREN)
        names |= {n for n in list(logging.root.manager.loggerDict) if _is_http_logger(n)}
        for name in sorted(names):
            logger = logging.getLogger(name)
            if _REDACTOR not in logger.filters:
                logger.addFilter(_REDACTOR)
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _is_http_logger(record.name):
                _REDACTOR.filter(record)  # never raises (it redacts what it can read)
            return record

        logging.setLogRecordFactory(redacting_factory)
        _factory_installed = True


def mask_signed_url(url: str) -> None:
    """
    Tell Airflow's secrets masker (this task process and its supervisor) what of ``url`` is secret.

    Signed output URLs travel through XCom, the task state store and rendered fields, which the
    task supervisor logs at DEBUG: masking the query (the signature) and any user info there keeps
    the URL's place in the log readable and its power out of it.

    :param url: a signed output URL.
    """
    from airflow.sdk.log import mask_secret

    parts = urlsplit(url)
    for secret in (parts.query, parts.fragment, parts.password or ""):
        if len(secret) >= 8:  # the masker ignores short values; a signature is long
            register_secret(secret)
            mask_secret(secret)
