"""ClickHouse's HTTP interface, served over an embedded chDB engine.

elastichouse talks to ClickHouse through the `clickhouse` Rust crate, which speaks
ClickHouse's HTTP protocol. chDB (the ClickHouse engine packaged as a Python library)
has no network server of its own: it is an in-process library. So for the embedded
storage mode the daemon starts this script as a child process. It opens the chDB
data directory and answers the subset of the HTTP interface the crate (and curl)
use, so one Rust code path serves both a real ClickHouse server and embedded chDB.

Usage:
    [CHDB_SERVER_SECRET=…] python chdb_server.py --path DATA_DIR [--host 127.0.0.1] [--port 0]
                          [--max-concurrent-queries 1] [--shutdown-timeout 8]
                          [--parent-pid PID | --no-watch-parent] [--log-level INFO]

Once listening it prints one line, ``LISTENING <host>:<port>``, to stdout (after that,
stdout is redirected to stderr). Logs go to stderr. SIGTERM or SIGINT stops it cleanly:
no new requests are accepted, running queries are given time to finish, and the chDB
engine is closed so data is flushed. It also stops by itself if its parent process
(or the one named by --parent-pid) dies, so an orphan never keeps holding the data
directory (--no-watch-parent disables that).

What is served (see https://clickhouse.com/docs/interfaces/http):
  * ``GET /`` and ``GET /ping`` answer ``Ok.``.
  * A query comes from the ``query`` URL parameter, or else from the POST body
    (plain SQL, or the multipart/form-data body the crate sends when it has
    ``param_*`` query parameters). With ``query`` in the URL, a POST body is data
    for the INSERT in the URL; it is streamed into chDB without being held in memory.
  * Request bodies may be chunked and/or gzip/deflate encoded.
  * URL parameters: ``database``, ``default_format``, ``query_id``, ``param_<name>``,
    ``wait_end_of_query``; connection-level ones (user, password, session_id,
    compress, ...) are accepted and ignored; every other parameter is a ClickHouse
    setting for that one request.
  * Results are streamed with chunked transfer encoding where the output format allows
    it. Errors carry ClickHouse's status codes and the ``X-ClickHouse-Exception-Code``
    header; an error after streaming has begun is reported in the body with the
    exception-tag framing of ClickHouse 25.11+, which the crate recognises.

Access: with ``CHDB_SERVER_SECRET`` in its environment, every query must carry that secret as
ClickHouse's password (``X-ClickHouse-Key``, basic auth or ``password``); ``/ping`` stays open.
The daemon always sets one, so no other local user can run SQL on its engine.

Isolation: every request runs on a chDB connection of its own while it runs (connections to one
data directory share the engine but keep their own ``USE`` database and ``SET`` settings).
Connections are pooled between requests: a request gets its database and settings applied, and
settings it does not name are reset to their defaults, so nothing leaks into the next query; a
connection whose statement could change session state (SET, USE, temporary tables) or failed is
closed instead of pooled. How many requests may run chDB at the same time is bounded by
``--max-concurrent-queries`` (default 1: queries are serialised), except ``KILL QUERY``, which runs at once: chDB lists
its running statements in ``system.processes`` (under query ids of its own; the daemon
finds them by their ``log_comment`` setting) and cancels them from another connection.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hmac
import itertools
import json
import logging
import os
import tempfile
import re
import secrets
import signal
import string
import sys
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Optional
from urllib.parse import parse_qsl, urlsplit

import chdb

LOG = logging.getLogger("chdb_server")

# Request bodies are read from the socket in pieces of at most this size, and pieces
# are batched up to about this size before being handed to chDB.
PIECE_SIZE = 1 << 20

# URL parameters that are part of the HTTP protocol rather than ClickHouse settings.
# Those with a meaning here are handled explicitly; the rest are accepted and ignored
# (there are no users, sessions or response compression in the embedded engine).
IGNORED_PARAMS = {
    "user", "password", "quota_key", "role",
    "session_id", "session_timeout", "session_check",
    "compress", "enable_http_compression", "http_zlib_compression_level",
    "buffer_size", "client_protocol_version", "stacktrace",
}

# ---------------------------------------------------------------------------
# Output formats. Streaming concatenates the chunks chDB produces, which is only
# correct for row-by-row formats. Formats that print a header (column names/types)
# repeat it in every chunk, so it is removed from all but the first one; and since
# chDB yields no chunk at all for an empty result, those are re-run unstreamed to
# get the header alone. Everything else (JSON, XML, Pretty, Parquet, Values, ...)
# is produced in one piece.
# ---------------------------------------------------------------------------
_ROW_FORMATS = {
    "tabseparated", "tsv", "tabseparatedraw", "tsvraw", "raw", "csv",
    "jsoneachrow", "jsonlines", "ndjson", "jsonstringseachrow",
    "jsoncompacteachrow", "jsoncompactstringseachrow",
    "rowbinary", "native", "lineasstring", "null",
}
# Text formats whose header is this many lines.
_HEADER_LINE_FORMATS = {
    "tabseparatedwithnames": 1, "tsvwithnames": 1,
    "tabseparatedwithnamesandtypes": 2, "tsvwithnamesandtypes": 2,
    "tabseparatedrawwithnames": 1, "tsvrawwithnames": 1,
    "tabseparatedrawwithnamesandtypes": 2, "tsvrawwithnamesandtypes": 2,
    "csvwithnames": 1, "csvwithnamesandtypes": 2,
    "jsoncompacteachrowwithnames": 1, "jsoncompacteachrowwithnamesandtypes": 2,
    "jsoncompactstringseachrowwithnames": 1, "jsoncompactstringseachrowwithnamesandtypes": 2,
}
# Binary formats whose header is a column count followed by this many strings per column.
_HEADER_BINARY_FORMATS = {"rowbinarywithnames": 1, "rowbinarywithnamesandtypes": 2}

# Format names the chDB Python wrapper treats specially (pandas/pyarrow objects).
_PYTHON_ONLY_FORMATS = {"dataframe", "arrowtable", "datastore"}


def _content_type(fmt: str) -> str:
    low = fmt.lower()
    if low.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if low.startswith("csv"):
        return "text/csv; charset=UTF-8; header=" + ("present" if "withnames" in low else "absent")
    if low.startswith("json") or low == "ndjson":
        return "application/json; charset=UTF-8"
    if low.startswith("xml"):
        return "application/xml; charset=UTF-8"
    if low.startswith(("rowbinary", "native", "parquet", "arrow", "orc", "avro", "protobuf", "capnproto", "msgpack", "npy", "bson")):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------
# HTTP status per ClickHouse error name, following the server's own mapping;
# anything not listed is a 500.
_STATUS_BY_ERROR_NAME = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED",
                     "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"), 403),
    **dict.fromkeys((
        "BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
        "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME",
        "CANNOT_PARSE_NUMBER", "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4",
        "CANNOT_PARSE_IPV6", "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_UUID",
        "DUPLICATE_COLUMN", "ILLEGAL_COLUMN", "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE",
        "THERE_IS_NO_COLUMN", "TOO_DEEP_AST", "TOO_BIG_AST", "UNEXPECTED_AST_STRUCTURE",
        "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"), 400),
    **dict.fromkeys((
        "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE", "UNKNOWN_STORAGE",
        "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING",
        "UNKNOWN_AGGREGATE_FUNCTION", "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE",
        "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE"), 404),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "CANNOT_SCHEDULE_TASK": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}

# Error code -> name, filled from system.errors at start-up; used when a message
# does not end with "(NAME)".
_ERROR_NAMES: dict[int, str] = {}

_CODE_RE = re.compile(r"Code: (\d+)\.")
_NAME_RE = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*$")


class ChError(Exception):
    """A ClickHouse exception: numeric code plus the full "Code: N. DB::Exception: ..." text."""

    def __init__(self, code: int, text: str):
        super().__init__(text)
        self.code = code
        self.text = text

    @classmethod
    def make(cls, code: int, name: str, message: str) -> "ChError":
        """An exception raised by this server itself, worded like ClickHouse's."""
        return cls(code, f"Code: {code}. DB::Exception: {message}. ({name})")

    @classmethod
    def from_engine(cls, exc: BaseException) -> "ChError":
        """Wrap an exception thrown by chDB, dropping the Python wrapper's prefixes."""
        if isinstance(exc, ChError):
            return exc
        text = str(exc).strip()
        match = _CODE_RE.search(text)
        if not match:
            return cls.make(1001, "STD_EXCEPTION", text or type(exc).__name__)
        return cls(int(match.group(1)), text[match.start():])

    @property
    def name(self) -> str:
        match = _NAME_RE.search(self.text.splitlines()[0] if self.text else "")
        if match:
            return match.group(1)
        match = _NAME_RE.search(self.text)
        return match.group(1) if match else _ERROR_NAMES.get(self.code, "")

    @property
    def http_status(self) -> int:
        return _STATUS_BY_ERROR_NAME.get(self.name, 500)


class BadRequestFraming(Exception):
    """The request body is not valid HTTP framing; the connection cannot be reused."""


# ---------------------------------------------------------------------------
# A small SQL scanner: just enough lexing to find the statement kind, the output
# FORMAT clause, and where inline INSERT data begins, while skipping string
# literals, quoted identifiers and comments.
# ---------------------------------------------------------------------------
@dataclass
class Token:
    kind: str  # "word" | "punct"
    text: str
    start: int
    end: int
    depth: int  # parenthesis/bracket nesting depth


_WORD_CHARS = set(string.ascii_letters + string.digits + "_$")


def scan_tokens(sql: str) -> Iterator[Token]:
    """Yield words and punctuation of `sql` lazily, so a caller can stop before inline data."""
    i, n, depth = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("--", i) or ch == "#":
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            level, i = 1, i + 2
            while i < n and level:
                if sql.startswith("/*", i):
                    level, i = level + 1, i + 2
                elif sql.startswith("*/", i):
                    level, i = level - 1, i + 2
                else:
                    i += 1
        elif ch in "'\"`":
            # String literal or quoted identifier: backslash escapes and doubled quotes.
            j = i + 1
            while j < n:
                if sql[j] == "\\":
                    j += 2
                elif sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                    else:
                        break
                else:
                    j += 1
            i = j + 1
        elif ch in _WORD_CHARS:
            j = i + 1
            while j < n and sql[j] in _WORD_CHARS:
                j += 1
            yield Token("word", sql[i:j], i, j, depth)
            i = j
        else:
            if ch in ")]}":
                depth = max(depth - 1, 0)
            yield Token("punct", ch, i, i + 1, depth)
            if ch in "([{":
                depth += 1
            i += 1


def statement_kind(sql: str) -> str:
    """First keyword of the statement, upper-cased ("SELECT" for a leading parenthesis)."""
    for tok in scan_tokens(sql):
        if tok.kind == "word":
            return tok.text.upper()
        return "SELECT" if tok.text == "(" else tok.text
    return ""


_FORMAT_WORD = re.compile(r"(?i)\bformat\b")


def output_format(sql: str) -> Optional[str]:
    """The name in a trailing `FORMAT <name>` clause (optionally followed by SETTINGS), if any."""
    if not _FORMAT_WORD.search(sql):
        # No such word anywhere: skip the scan, which costs ~0.3 µs per character in Python (a
        # large translated search is tens of kilobytes, and most statements have no FORMAT).
        return None
    tokens = [t for t in scan_tokens(sql) if t.depth == 0]
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    for i in range(len(tokens) - 2, -1, -1):
        tok, name = tokens[i], tokens[i + 1]
        if tok.kind == "word" and tok.text.upper() == "FORMAT" and name.kind == "word":
            rest = tokens[i + 2:]
            if not rest or (rest[0].kind == "word" and rest[0].text.upper() == "SETTINGS"):
                return name.text
    return None


@dataclass
class InsertSplit:
    statement: str  # "INSERT INTO t (a, b)" without FORMAT/VALUES, for send_insert
    fmt: str  # input format of the data
    data_start: int  # offset in the original text where inline data begins


def split_insert(sql: str) -> Optional[InsertSplit]:
    """Split `INSERT ... FORMAT <fmt> [data]` or `INSERT ... VALUES [data]`.

    Returns None for statements that carry no data (INSERT ... SELECT, non-INSERTs).
    Scanning stops at the data, so arbitrary (even unbalanced) data text is fine.
    """
    tokens = scan_tokens(sql)
    first = next((t for t in tokens if t.kind == "word"), None)
    if first is None or first.text.upper() != "INSERT":
        return None
    seen_select = False
    for tok in tokens:
        if tok.depth or tok.kind != "word":
            continue
        word = tok.text.upper()
        if word in ("SELECT", "WITH"):
            seen_select = True
        elif word == "FORMAT":
            name = next(tokens, None)
            if name is None or name.kind != "word":
                return None
            return InsertSplit(sql[:tok.start].rstrip(" \t\r\n"), name.text, name.end)
        elif word == "VALUES" and not seen_select:
            return InsertSplit(sql[:tok.start].rstrip(" \t\r\n"), "Values", tok.end)
    return None


def skip_data_separator(data: bytes) -> bytes:
    """Drop the blanks (and at most one line break) between `FORMAT <fmt>` and inline data."""
    i = 0
    while i < len(data) and data[i] in b" \t":
        i += 1
    if data.startswith(b"\r\n", i):
        i += 2
    elif data.startswith(b"\n", i):
        i += 1
    return data[i:]


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


_SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ---------------------------------------------------------------------------
# Request bodies
# ---------------------------------------------------------------------------
class RequestBody:
    """The body of one HTTP request: Content-Length or chunked, optionally gzip/deflate.

    `pieces()` yields decoded data; `drain()` discards whatever is left so the
    connection can serve the next request.
    """

    def __init__(self, rfile, headers):
        self._rfile = rfile
        transfer = (headers.get("Transfer-Encoding") or "").lower()
        self.chunked = "chunked" in transfer
        length = headers.get("Content-Length")
        if self.chunked:
            self._remaining = 0
        else:
            try:
                self._remaining = int(length) if length else 0
            except ValueError:
                raise BadRequestFraming(f"bad Content-Length {length!r}") from None
            if self._remaining < 0:
                raise BadRequestFraming(f"bad Content-Length {length!r}")
        self.encoding = (headers.get("Content-Encoding") or "").strip().lower()
        self._raw = self._raw_pieces()
        self.finished = not self.chunked and self._remaining == 0
        self.broken = False

    @property
    def maybe_present(self) -> bool:
        """True unless the request certainly has no body."""
        return self.chunked or self._remaining > 0

    def _read_exact(self, n: int) -> bytes:
        data = self._rfile.read(n)
        if len(data) != n:
            raise BadRequestFraming("connection closed in the middle of the request body")
        return data

    def _readline(self) -> bytes:
        line = self._rfile.readline(65537)
        if not line.endswith(b"\n"):
            raise BadRequestFraming("malformed chunked body")
        return line

    def _raw_pieces(self) -> Iterator[bytes]:
        try:
            if not self.chunked:
                while self._remaining > 0:
                    piece = self._read_exact(min(self._remaining, PIECE_SIZE))
                    self._remaining -= len(piece)
                    yield piece
                return
            while True:
                size_field = self._readline().split(b";", 1)[0].strip()
                try:
                    size = int(size_field, 16)
                except ValueError:
                    raise BadRequestFraming(f"bad chunk size {size_field!r}") from None
                if size == 0:
                    while self._readline() not in (b"\r\n", b"\n"):
                        pass  # trailer fields are ignored
                    return
                while size > 0:
                    piece = self._read_exact(min(size, PIECE_SIZE))
                    size -= len(piece)
                    yield piece
                if self._readline().strip():
                    raise BadRequestFraming("chunk not followed by CRLF")
        except BadRequestFraming:
            self.broken = True
            raise
        except OSError as exc:
            self.broken = True
            raise BadRequestFraming(str(exc)) from exc
        finally:
            self.finished = True

    def pieces(self) -> Iterator[bytes]:
        if self.encoding in ("", "identity"):
            yield from self._raw
            return
        if self.encoding not in ("gzip", "x-gzip", "deflate"):
            raise ChError.make(48, "NOT_IMPLEMENTED",
                               f"Unsupported Content-Encoding of the request body: {self.encoding}")
        # wbits 32+15: accept either a gzip or a zlib header; a gzip body may hold several members.
        decoder = zlib.decompressobj(32 + zlib.MAX_WBITS)
        for piece in self._raw:
            while piece:
                try:
                    out = decoder.decompress(piece)
                except zlib.error as exc:
                    raise ChError.make(354, "CANNOT_DECOMPRESS",
                                       f"Cannot decode {self.encoding} request body: {exc}") from exc
                if out:
                    yield out
                piece = b""
                if decoder.eof:
                    piece = decoder.unused_data
                    decoder = zlib.decompressobj(32 + zlib.MAX_WBITS)
        tail = decoder.flush()
        if tail:
            yield tail

    def read_all(self) -> bytes:
        return b"".join(self.pieces())

    def drain(self) -> None:
        for _ in self._raw:
            pass


def parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    """Fields of a multipart/form-data body (as the crate sends `query` and `param_*`)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ChError.make(36, "BAD_ARGUMENTS", "multipart/form-data request without a boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: dict[str, str] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # closing delimiter
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        name = re.search(rb'name="([^"]*)"', head)
        if not name:
            continue
        if value.endswith(b"\r\n"):
            value = value[:-2]
        fields[name.group(1).decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return fields


# ---------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------
@dataclass
class _Pooled:
    """A chDB connection kept between requests, with the session state requests gave it."""
    conn: object
    database: Optional[str] = "default"
    settings: dict[str, str] = field(default_factory=dict)


# Statements after which a connection may serve another request: they cannot change its session
# state (SET, USE, SET ROLE, temporary tables and the like can, so those connections are closed).
_STATELESS_KINDS = frozenset({
    "SELECT", "WITH", "INSERT", "ALTER", "DROP", "TRUNCATE", "OPTIMIZE", "DELETE", "UPDATE", "SHOW",
    "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "RENAME", "SYSTEM", "KILL", "CHECK",
})


def reusable_after(sql: str) -> bool:
    """Whether a pooled connection may be reused after running `sql` (see Engine.session)."""
    kind = statement_kind(sql)
    if kind == "CREATE":
        head = itertools.islice((t.text.upper() for t in scan_tokens(sql) if t.kind == "word"), 4)
        return "TEMPORARY" not in head
    return kind in _STATELESS_KINDS


class Engine:
    """The chDB engine for one data directory, plus the gate that limits concurrent queries."""

    def __init__(self, path: str, max_concurrent: int, secret: str = ""):
        self.path = path
        self.secret = secret  # the password every query must carry; empty: no check
        self.max_concurrent = max_concurrent
        # This connection lives as long as the server: the engine stays up while any
        # connection to it is open, and it is the one closed last at shutdown.
        self._main = chdb.connect(path)
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._pool_lock = threading.Lock()
        self._idle: list[_Pooled] = []  # connections ready for the next request
        self.stopping = threading.Event()  # set at shutdown: streaming results are cut short
        self.timezone = "UTC"
        try:
            rows = self._main.query(
                "SELECT DISTINCT code, name FROM system.errors "
                "SETTINGS system_events_show_zero_values = 1", "TabSeparated").bytes()
            for line in rows.decode().splitlines():
                code, name = line.split("\t")
                _ERROR_NAMES[int(code)] = name
            self.timezone = self._main.query("SELECT timezone()", "TabSeparated").bytes().decode().strip()
        except Exception:  # informational only
            LOG.warning("could not read error names / timezone", exc_info=True)

    @contextlib.contextmanager
    def session(self, database: Optional[str], settings: list[tuple[str, str]], gated: bool = True,
                reusable: bool = True):
        """A connection with this request's database and settings applied. Ungated sessions
        (``KILL QUERY``) do not wait for a slot: they must reach the statement they stop while it
        holds one.

        Connections are pooled: opening one and setting it up cost more than a small query. A pooled
        connection remembers its database and the settings applied to it, and a request changes only
        what differs (settings it does not name go back to ``DEFAULT``), so nothing leaks into the
        next request. A connection goes back to the pool only after a statement that finished
        cleanly and cannot have changed session state (``reusable``: not SET, USE, temporary
        tables...); any other is closed."""
        with self._slots if gated else contextlib.nullcontext():
            pooled = self._checkout()
            clean = False
            try:
                self._prepare(pooled, database or "default", settings)
                yield pooled.conn
                clean = True
            finally:
                if clean and reusable and not self.stopping.is_set():
                    self._checkin(pooled)
                else:
                    with contextlib.suppress(Exception):
                        pooled.conn.close()

    def _checkout(self) -> "_Pooled":
        with self._pool_lock:
            if self._idle:
                return self._idle.pop()
        return _Pooled(chdb.connect(self.path))

    def _checkin(self, pooled: "_Pooled") -> None:
        with self._pool_lock:
            if len(self._idle) < self.max_concurrent + 1:
                self._idle.append(pooled)
                return
        with contextlib.suppress(Exception):
            pooled.conn.close()

    def _prepare(self, pooled: "_Pooled", database: str, settings: list[tuple[str, str]]) -> None:
        if pooled.database != database:
            pooled.database = None  # unknown until USE succeeds
            self._run(pooled.conn, "USE " + quote_identifier(database))
            pooled.database = database
        wanted = dict(settings)
        changes = [f"{name} = {quote_string(value)}" for name, value in wanted.items()
                   if pooled.settings.get(name) != value]
        changes += [f"{name} = DEFAULT" for name in pooled.settings if name not in wanted]
        if changes:
            pooled.settings = {}  # unknown until SET succeeds
            # One statement for all: cheaper than one SET per setting.
            self._run(pooled.conn, "SET " + ", ".join(changes))
            pooled.settings = wanted

    @staticmethod
    def _run(conn, sql: str) -> None:
        try:
            conn.query(sql, "TabSeparated")
        except Exception as exc:
            raise ChError.from_engine(exc) from None

    def close(self, timeout: float) -> None:
        """Wait (up to `timeout`) for running queries, then shut the engine down."""
        deadline = time.monotonic() + timeout
        taken = 0
        for _ in range(self.max_concurrent):
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
            taken += 1
        if taken < self.max_concurrent:
            LOG.warning("closing chDB with %d queries still running", self.max_concurrent - taken)
        with self._pool_lock:
            idle, self._idle = self._idle, []
        for pooled in idle:
            with contextlib.suppress(Exception):
                pooled.conn.close()
        self._main.close()


# ---------------------------------------------------------------------------
# One query request, as read from the URL, headers and body
# ---------------------------------------------------------------------------
@dataclass
class QueryRequest:
    sql: str
    body_is_data: bool  # the POST body is INSERT data following `sql` (query was in the URL)
    database: Optional[str] = None
    default_format: Optional[str] = None
    query_id: str = ""
    params: dict[str, str] = field(default_factory=dict)
    settings: list[tuple[str, str]] = field(default_factory=list)
    wait_end_of_query: bool = False
    compressed_body: bool = False
    raw_sql: Optional[bytes] = None  # the query came as the POST body (bytes, maybe with data)


def _truthy(value: str) -> bool:
    return value.strip().lower() not in ("", "0", "false")


def build_request(method: str, url_params: list[tuple[str, str]], headers, body: RequestBody,
                  query_id: str) -> Optional[QueryRequest]:
    """Interpret URL parameters and body; None when there is no query (a health check)."""
    sql: Optional[str] = None
    req = QueryRequest(sql="", body_is_data=False, query_id=query_id)
    readonly: Optional[str] = None
    for name, value in url_params:
        if name == "query":
            sql = value
        elif name == "database":
            req.database = value or None
        elif name == "default_format":
            req.default_format = value or None
        elif name == "query_id":
            pass  # read by the caller
        elif name.startswith("param_"):
            req.params[name[len("param_"):]] = value
        elif name in ("wait_end_of_query", "http_wait_end_of_query"):
            req.wait_end_of_query = _truthy(value)
        elif name == "decompress":
            req.compressed_body = _truthy(value)
        elif name in IGNORED_PARAMS:
            pass
        elif not _SETTING_NAME_RE.match(name):
            raise ChError.make(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
        elif name == "readonly":
            readonly = value  # applied last, or it would forbid the other SETs
        else:
            req.settings.append((name, value))
    if readonly is not None:
        req.settings.append(("readonly", readonly))

    content_type = headers.get("Content-Type") or ""
    if method == "POST" and content_type.lower().startswith("multipart/form-data"):
        fields = parse_multipart(content_type, body.read_all())
        for name, value in fields.items():
            if name == "query" and sql is None:
                sql = value
            elif name.startswith("param_"):
                req.params[name[len("param_"):]] = value
            else:
                LOG.debug("ignoring multipart field %r", name)
    elif sql is not None:
        req.body_is_data = method == "POST" and body.maybe_present
    elif method == "POST":
        if req.compressed_body:
            raise ChError.make(48, "NOT_IMPLEMENTED",
                               "ClickHouse-compressed request bodies (decompress=1) are not supported "
                               "by the chDB server; send them uncompressed")
        # The whole body is the query, possibly followed by INSERT data (which may be
        # binary), so it is kept as bytes until the statement has been split off.
        req.raw_sql = body.read_all()
        return req

    if sql is None:
        return None
    req.sql = sql
    return req


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------
def _summary(read_rows=0, read_bytes=0, written_rows=0, written_bytes=0,
             result_rows=0, result_bytes=0, elapsed_ns=0) -> str:
    values = {
        "read_rows": read_rows, "read_bytes": read_bytes,
        "written_rows": written_rows, "written_bytes": written_bytes,
        "total_rows_to_read": read_rows,
        "result_rows": result_rows, "result_bytes": result_bytes,
        "elapsed_ns": elapsed_ns,
    }
    return json.dumps({k: str(int(v)) for k, v in values.items()}, separators=(",", ":"))


def _result_summary(res, started_ns: int) -> str:
    def get(name):
        try:
            return getattr(res, name)() or 0
        except Exception:
            return 0
    return _summary(read_rows=get("storage_rows_read"), read_bytes=get("storage_bytes_read"),
                    written_rows=get("rows_written"), written_bytes=get("bytes_written"),
                    result_rows=get("rows_read"), result_bytes=get("bytes_read"),
                    elapsed_ns=time.monotonic_ns() - started_ns)


class HeaderStripper:
    """Removes the header that chDB repeats at the start of every streamed chunk."""

    def __init__(self, fmt: str):
        low = fmt.lower()
        self._lines = _HEADER_LINE_FORMATS.get(low, 0)
        self._strings = _HEADER_BINARY_FORMATS.get(low, 0)
        self.header: Optional[bytes] = None

    @property
    def needed(self) -> bool:
        return bool(self._lines or self._strings)

    def _header_length(self, chunk: bytes) -> int:
        if self._lines:
            pos = 0
            for _ in range(self._lines):
                pos = chunk.index(b"\n", pos) + 1
            return pos
        pos = 0

        def varint() -> int:
            nonlocal pos
            value = shift = 0
            while True:
                byte = chunk[pos]
                pos += 1
                value |= (byte & 0x7F) << shift
                if byte < 0x80:
                    return value
                shift += 7

        columns = varint()
        for _ in range(columns * self._strings):
            length = varint()  # (not `pos += varint()`: varint() itself moves pos)
            pos += length
        if pos > len(chunk):
            raise IndexError
        return pos

    def first(self, chunk: bytes) -> None:
        if self.needed:
            try:
                self.header = chunk[:self._header_length(chunk)]
            except (ValueError, IndexError):
                LOG.warning("could not find the format header in the first chunk")

    def strip(self, chunk: bytes) -> bytes:
        if self.header and chunk.startswith(self.header):
            return chunk[len(self.header):]
        return chunk


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response is framed by length or chunks
    timeout = 600  # seconds a kept-alive connection may stay idle (or a body may stall)
    # Responses are written in several pieces (headers, then body chunks); without
    # TCP_NODELAY, Nagle's algorithm and the client's delayed ACK add ~40 ms per request.
    disable_nagle_algorithm = True

    def version_string(self):
        return "chdb-server"

    engine: Engine  # set on the subclass made in serve()

    # -- plumbing ----------------------------------------------------------
    def log_message(self, fmt, *args):
        LOG.debug("%s %s", self.address_string(), fmt % args)

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def _dispatch(self):
        self._started = False  # response status line sent
        try:
            body = RequestBody(self.rfile, self.headers)
        except BadRequestFraming as exc:
            self._send_plain(400, f"Bad request: {exc}\n")
            self.close_connection = True
            return
        try:
            self._route(body)
        except BadRequestFraming as exc:
            LOG.warning("bad request body: %s", exc)
            if not self._started:
                self._send_plain(400, f"Bad request: {exc}\n", close=True)
            self.close_connection = True
        except OSError as exc:  # the client went away, or the socket timed out
            LOG.debug("connection problem: %s", exc)
            self.close_connection = True
        finally:
            if body.broken:
                self.close_connection = True
            elif not body.finished and not self.close_connection:
                try:
                    body.drain()
                except BadRequestFraming:
                    self.close_connection = True

    def _route(self, body: RequestBody):
        url = urlsplit(self.path)
        if url.path == "/ping" or url.path == "/replicas_status":
            self._send_plain(200, "Ok.\n")
            return
        if url.path != "/":
            self._send_plain(404, f"There is no handle {url.path}\n\nUse / or /ping for health checks.\n")
            return
        params = parse_qsl(url.query, keep_blank_values=True)
        query_id = next((v for k, v in params if k == "query_id" and v), "") or str(uuid.uuid4())
        try:
            self._authenticate(params)
            req = build_request(self.command, params, self.headers, body, query_id)
            if req is None:
                self._send_plain(200, "Ok.\n")
                return
            self._execute(req, body)
        except ChError as exc:
            LOG.info("query %s failed: %s", query_id, exc.text.splitlines()[0] if exc.text else exc.code)
            if self._started:  # cannot happen by construction; never send a second response
                self.close_connection = True
            else:
                self._send_error(exc, query_id)
        except (BadRequestFraming, OSError):
            raise
        except Exception as exc:  # a bug here must still produce a well-framed response
            LOG.exception("internal error")
            if not self._started:
                self._send_error(ChError.make(1001, "STD_EXCEPTION", f"chdb_server internal error: {exc!r}"), query_id)
            else:
                self.close_connection = True

    # -- responses ---------------------------------------------------------
    def _authenticate(self, params) -> None:
        """With a secret (``CHDB_SERVER_SECRET``), a query must carry it as ClickHouse's password:
        the ``X-ClickHouse-Key`` header, HTTP basic auth or the ``password`` URL parameter. So only
        the process that started the server (and whoever can read its 0600 secret file) runs SQL."""
        secret = self.engine.secret
        if not secret:
            return
        given = self.headers.get("X-ClickHouse-Key")
        auth = self.headers.get("Authorization", "")
        if given is None and auth[:6].lower() == "basic ":
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                given = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")[2]
        if given is None:
            given = next((v for k, v in params if k == "password"), None)
        if given is None or not hmac.compare_digest(given.encode(), secret.encode()):
            raise ChError.make(516, "AUTHENTICATION_FAILED",
                               "default: Authentication failed: password is incorrect, or there is "
                               "no user with such name")

    def _send_plain(self, status: int, text: str, headers=(), close=False):
        data = text.encode("utf-8")
        self._started = True
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, exc: ChError, query_id: str):
        headers = [("X-ClickHouse-Exception-Code", str(exc.code)),
                   ("X-ClickHouse-Query-Id", query_id),
                   ("X-ClickHouse-Summary", _summary())]
        self._send_plain(exc.http_status, exc.text.rstrip("\n") + "\n", headers)

    def _start_ok(self, req: QueryRequest, fmt: Optional[str], summary: str, length: Optional[int], tag: str = ""):
        self._started = True
        self.send_response(200)
        self.send_header("X-ClickHouse-Query-Id", req.query_id)
        self.send_header("X-ClickHouse-Timezone", self.engine.timezone)
        if fmt:
            self.send_header("X-ClickHouse-Format", fmt)
        self.send_header("Content-Type", _content_type(fmt) if fmt else "text/plain; charset=UTF-8")
        if tag:
            self.send_header("X-ClickHouse-Exception-Tag", tag)
        self.send_header("X-ClickHouse-Summary", summary)
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def _write_chunk(self, data) -> None:
        """One chunk of a chunked body (small ones in a single write)."""
        if not len(data):
            return  # an empty chunk would end the body
        if len(data) < 65536:
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self.wfile.write(b"%x\r\n" % len(data))
            self.wfile.write(data)
            self.wfile.write(b"\r\n")

    # -- execution ---------------------------------------------------------
    def _execute(self, req: QueryRequest, body: RequestBody):
        started = time.monotonic_ns()
        data_prefix = b""
        data_pieces: Optional[Iterator[bytes]] = None
        if req.raw_sql is not None:
            # Scan the bytes as latin-1 so that text offsets are byte offsets.
            insert = split_insert(req.raw_sql.decode("latin-1"))
            if insert is not None:
                insert.statement = _utf8(req.raw_sql[:len(insert.statement)])
                data_prefix = skip_data_separator(req.raw_sql[insert.data_start:])
            sql = "" if insert is not None else _utf8(req.raw_sql)
        else:
            sql = req.sql
            insert = split_insert(sql)
            if insert is not None:
                data_prefix = skip_data_separator(sql[insert.data_start:].encode("utf-8"))
            if req.body_is_data and req.compressed_body:
                raise ChError.make(48, "NOT_IMPLEMENTED",
                                   "ClickHouse-compressed request bodies (decompress=1) are not "
                                   "supported by the chDB server; send them uncompressed")
            if req.body_is_data and insert is not None:
                data_pieces = body.pieces()
            elif req.body_is_data:
                # Not an INSERT with data: the body simply continues the query text.
                extra = body.read_all()
                if extra.strip():
                    sql = sql + "\n" + _utf8(extra)

        if insert is None and not sql.strip():
            raise ChError.make(62, "SYNTAX_ERROR", "Empty query")

        gated = insert is not None or statement_kind(sql) != "KILL"
        reusable = insert is not None or reusable_after(sql)
        with self.engine.session(req.database, req.settings, gated, reusable) as conn:
            if insert is not None:
                self._insert(conn, req, insert, data_prefix, data_pieces, started)
            else:
                self._query(conn, req, sql, started)

    def _insert(self, conn, req: QueryRequest, insert: InsertSplit, prefix: bytes,
                pieces: Optional[Iterator[bytes]], started: int):
        # The request body is streamed to a temporary file and inserted with `FROM INFILE`.
        # chDB's streaming inserter (send_insert) is not used: it reports rows as written even when
        # the engine rejects the block (e.g. SIZES_OF_ARRAYS_DONT_MATCH), which would acknowledge
        # data that was never stored. The query path raises those errors.
        tmp_dir = os.path.join(os.path.dirname(self.engine.path.rstrip("/")), "insert-tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=tmp_dir, suffix=".data")
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                out.write(prefix)
                for piece in pieces or ():
                    out.write(piece)
                    size += len(piece)
            spooled = time.monotonic_ns()
            # The path is ours (mkstemp in our data dir): no quote or backslash can appear in it.
            if "'" in path or "\\" in path:
                raise ChError.make(36, "BAD_ARGUMENTS", "unsafe temporary path")
            sql = f"{insert.statement} FROM INFILE '{path}' COMPRESSION 'none' FORMAT {insert.fmt}"
            try:
                result = conn.query(sql, "TabSeparated")
            except Exception as exc:
                raise ChError.from_engine(exc) from None
            LOG.debug("insert %s: %d bytes, received+spooled in %.1f ms, engine %.1f ms", req.query_id,
                      size + len(prefix), (spooled - started) / 1e6, (time.monotonic_ns() - spooled) / 1e6)
        except (BadRequestFraming, ChError, OSError):
            raise
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

        def count(name):
            v = getattr(result, name, 0)
            return v() if callable(v) else v

        summary = _summary(written_rows=count("rows_written"), written_bytes=count("bytes_written"),
                           elapsed_ns=time.monotonic_ns() - started)
        self._start_ok(req, None, summary, 0)

    def _query(self, conn, req: QueryRequest, sql: str, started: int):
        fmt_arg = req.default_format or "TabSeparated"
        fmt = output_format(sql) or fmt_arg
        if fmt.lower() in _PYTHON_ONLY_FORMATS or fmt_arg.lower() in _PYTHON_ONLY_FORMATS:
            raise ChError.make(73, "UNKNOWN_FORMAT", f"Unknown format {fmt}")
        low = fmt.lower()
        streamable = (low in _ROW_FORMATS or low in _HEADER_LINE_FORMATS or low in _HEADER_BINARY_FORMATS)
        if streamable and not req.wait_end_of_query and statement_kind(sql) in ("SELECT", "WITH"):
            if self._stream(conn, req, sql, fmt_arg, fmt, started):
                return
        self._buffered(conn, req, sql, fmt_arg, fmt, started)

    def _buffered(self, conn, req, sql, fmt_arg, fmt, started):
        try:
            res = conn.query(sql, fmt_arg, params=req.params)
        except Exception as exc:
            raise ChError.from_engine(exc) from None
        view = res.get_memview().view() if res.size() else b""
        self._start_ok(req, fmt, _result_summary(res, started), len(view), _exception_tag())
        self.wfile.write(view)

    def _stream(self, conn, req, sql, fmt_arg, fmt, started) -> bool:
        """Stream a SELECT's result; False if chDB cannot stream it (caller runs it unstreamed)."""
        try:
            stream = conn.send_query(sql, fmt_arg, params=req.params)
        except Exception as exc:
            if "Streaming query is not supported" in str(exc):
                return False
            raise ChError.from_engine(exc) from None
        try:
            try:
                first = stream.fetch()
            except Exception as exc:
                raise ChError.from_engine(exc) from None
            stripper = HeaderStripper(fmt)
            if first is None:
                if stripper.needed:
                    return False  # re-run unstreamed to get the header of the empty result
                self._start_ok(req, fmt, _summary(elapsed_ns=time.monotonic_ns() - started), 0)
                return True
            data = first.bytes()
            stripper.first(data)
            tag = _exception_tag()
            self._start_ok(req, fmt, _result_summary(first, started), None, tag)
            self._write_chunk(data)
            while True:
                if self.engine.stopping.is_set():
                    error = ChError.make(394, "QUERY_WAS_CANCELLED", "The chDB server is shutting down")
                    self._write_chunk(_exception_block(error.text, tag))
                    break
                try:
                    chunk = stream.fetch()
                except Exception as exc:
                    error = ChError.from_engine(exc)
                    LOG.info("query %s failed while streaming: %s", req.query_id, error.text.splitlines()[0])
                    self._write_chunk(_exception_block(error.text, tag))
                    break
                if chunk is None:
                    break
                self._write_chunk(stripper.strip(chunk.bytes()))
            self.wfile.write(b"0\r\n\r\n")
            return True
        finally:
            with contextlib.suppress(Exception):
                stream.close()


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ChError.make(36, "BAD_ARGUMENTS", "The query text is not valid UTF-8") from None


def _exception_tag() -> str:
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(16))


def _exception_block(message: str, tag: str) -> bytes:
    """An error inside a started 200 response, framed as ClickHouse 25.11+ does it."""
    text = (message.rstrip("\n") + "\n").encode("utf-8")
    return (b"\r\n__exception__\r\n" + tag.encode() + b"\r\n" + text
            + b"%d " % len(text) + tag.encode() + b"\r\n__exception__\r\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not block shutdown
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            LOG.debug("connection from %s ended: %s", client_address, exc)
        else:
            LOG.exception("unexpected error serving %s", client_address)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_parent(parent_pid: Optional[int], stop) -> None:
    """Stop when the parent process dies, so no orphan keeps holding the data directory.

    With --parent-pid, that process is watched; otherwise we notice being re-parented.
    """
    if parent_pid is None:
        original = os.getppid()
        alive = lambda: os.getppid() == original  # noqa: E731
    else:
        alive = lambda: _process_alive(parent_pid)  # noqa: E731
    while alive():
        time.sleep(1.0)
    LOG.warning("parent process %s is gone", parent_pid or "")
    stop(signal.SIGTERM, None)


def serve(args) -> int:
    path = os.path.abspath(args.path)
    os.makedirs(path, exist_ok=True)
    # The secret comes from the environment, not the command line, which other users can read.
    engine = Engine(path, args.max_concurrent_queries, os.environ.pop("CHDB_SERVER_SECRET", ""))
    handler = type("BoundHandler", (Handler,), {"engine": engine})
    server = Server((args.host, args.port), handler)
    host, port = server.server_address[:2]

    stopping = threading.Event()

    def on_signal(signum, _frame):
        if stopping.is_set():
            return
        stopping.set()
        engine.stopping.set()
        LOG.info("signal %d: shutting down", signum)
        # shutdown() waits for serve_forever() to return, so it must not run on this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.watch_parent:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, on_signal), daemon=True).start()

    LOG.info("chDB %s at %s; listening on %s:%d", getattr(chdb, "__version__", "?"), path, host, port)
    sys.stdout.write(f"LISTENING {host}:{port}\n")
    sys.stdout.flush()
    # Nothing else goes to stdout: the parent may stop reading it, and a full pipe would
    # block whoever writes next (including chDB's own C++ code). Send it to stderr.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        engine.close(timeout=args.shutdown_timeout)
        LOG.info("stopped")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="ClickHouse HTTP interface over embedded chDB")
    parser.add_argument("--path", required=True, help="chDB data directory (created if missing)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--max-concurrent-queries", type=int, default=1,
                        help="requests allowed to run in chDB at once (default 1: serialised)")
    parser.add_argument("--shutdown-timeout", type=float, default=8.0,
                        help="seconds to wait for running queries at shutdown (default 8)")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="stop when this process exits (default: when we are re-parented)")
    parser.add_argument("--no-watch-parent", dest="watch_parent", action="store_false",
                        help="keep running when the parent process exits")
    parser.add_argument("--log-level", default=os.environ.get("CHDB_SERVER_LOG", "INFO"))
    args = parser.parse_args(argv)
    if args.max_concurrent_queries < 1:
        parser.error("--max-concurrent-queries must be at least 1")
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s chdb_server: %(message)s")
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
