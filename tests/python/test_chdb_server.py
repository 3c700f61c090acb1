"""Tests for src/clickhouse/chdb_server.py, the ClickHouse HTTP interface over chDB.

Each test talks HTTP to a real server process started on a temporary data directory
with the Python running these tests (so run them with a Python that has chdb-core):

    /tmp/chvenv/bin/python -m unittest discover -s tests/python -v
"""

import base64
import gzip
import http.client
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from pathlib import Path
from urllib.parse import urlencode

SERVER = Path(__file__).resolve().parents[2] / "src" / "clickhouse" / "chdb_server.py"


class ServerProcess:
    """One chdb_server.py child process."""

    def __init__(self, data_dir, *extra_args, env=None):
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--path", data_dir, "--port", "0", "--log-level", "WARNING", *extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=None if env is None else {**os.environ, **env})
        self._stderr = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"server did not start: {line!r}\n{''.join(self._stderr)}")
        host, port = line.split()[1].rsplit(":", 1)
        self.host, self.port = host, int(port)

    def _drain_stderr(self):
        with self.proc.stderr:
            for line in self.proc.stderr:
                self._stderr.append(line)

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self.proc.stdout.close()


class Response:
    def __init__(self, resp):
        self.status = resp.status
        self.headers = resp.headers
        self.body = resp.read()
        self.chunked = (resp.headers.get("Transfer-Encoding") or "").lower() == "chunked"

    @property
    def text(self):
        return self.body.decode()

    def header(self, name):
        return self.headers.get(name)


def request(server, method, params=None, body=None, headers=None, path="/", conn=None):
    """One request; `body` may be bytes, str, or an iterable of bytes (sent chunked)."""
    own = conn is None
    conn = conn or server.connection()
    url = path + ("?" + urlencode(params) if params else "")
    headers = dict(headers or {})
    if isinstance(body, str):
        body = body.encode()
    try:
        if body is not None and not isinstance(body, (bytes, bytearray)):
            conn.request(method, url, body=iter(body), headers=headers, encode_chunked=True)
        else:
            conn.request(method, url, body=body, headers=headers)
        return Response(conn.getresponse())
    finally:
        if own:
            conn.close()


def row_binary_rows(rows):
    """RowBinary for (UInt64, String, Float64) rows."""
    out = bytearray()
    for a, b, c in rows:
        data = b.encode()
        out += struct.pack("<Q", a) + bytes([len(data)]) + data + struct.pack("<d", c)
    return bytes(out)


def setUpModule():
    try:
        import chdb  # noqa: F401
    except ImportError:
        raise unittest.SkipTest(f"chdb is not importable by {sys.executable}")
    global SRV, DATA_DIR
    DATA_DIR = tempfile.mkdtemp(prefix="chdb_server_test_")
    SRV = ServerProcess(DATA_DIR)


def tearDownModule():
    SRV.stop()
    shutil.rmtree(DATA_DIR, ignore_errors=True)


class HttpInterfaceTest(unittest.TestCase):
    def q(self, sql, **params):
        """POST `sql` as the body; assert success; return the response."""
        resp = request(SRV, "POST", params or None, sql)
        self.assertEqual(resp.status, 200, resp.body)
        return resp

    def test_ping(self):
        for path in ("/ping", "/"):
            resp = request(SRV, "GET", path=path)
            self.assertEqual((resp.status, resp.text), (200, "Ok.\n"))
        self.assertEqual(request(SRV, "GET", path="/nothing").status, 404)

    def test_select_with_default_format(self):
        resp = request(SRV, "GET", {"query": "SELECT 1 AS a, 'x' AS b", "default_format": "JSONEachRow"})
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.text, '{"a":1,"b":"x"}\n')
        self.assertEqual(resp.header("X-ClickHouse-Format"), "JSONEachRow")
        self.assertTrue(resp.header("Content-Type").startswith("application/json"))
        summary = json.loads(resp.header("X-ClickHouse-Summary"))
        for key in ("read_rows", "read_bytes", "written_rows", "written_bytes",
                    "total_rows_to_read", "result_rows", "result_bytes", "elapsed_ns"):
            self.assertIsInstance(summary[key], str, key)
        uuid.UUID(resp.header("X-ClickHouse-Query-Id"))  # generated when not given

    def test_default_format_is_tab_separated(self):
        resp = self.q("SELECT 1, 'a\tb'")
        self.assertEqual(resp.text, "1\ta\\tb\n")
        self.assertEqual(resp.header("X-ClickHouse-Format"), "TabSeparated")

    def test_query_in_body_with_format_clause(self):
        resp = self.q("SELECT toUInt8(number) AS n FROM numbers(3) FORMAT JSON", default_format="CSV")
        self.assertEqual(resp.header("X-ClickHouse-Format"), "JSON")
        doc = json.loads(resp.body)
        self.assertEqual(doc["rows"], 3)
        self.assertEqual([r["n"] for r in doc["data"]], [0, 1, 2])
        # A query in the URL, with a trailing semicolon and a comment mentioning FORMAT.
        resp = request(SRV, "GET", {"query": "SELECT 'FORMAT CSV' AS s -- FORMAT XML\nFORMAT JSONEachRow;"})
        self.assertEqual((resp.header("X-ClickHouse-Format"), resp.text), ("JSONEachRow", '{"s":"FORMAT CSV"}\n'))

    def test_query_id_is_echoed(self):
        resp = request(SRV, "GET", {"query": "SELECT 1", "query_id": "my-id-42"})
        self.assertEqual(resp.header("X-ClickHouse-Query-Id"), "my-id-42")
        resp = request(SRV, "GET", {"query": "SELECT * FROM missing_table", "query_id": "bad-id"})
        self.assertEqual(resp.header("X-ClickHouse-Query-Id"), "bad-id")

    def test_url_query_parameters(self):
        resp = request(SRV, "GET", {"query": "SELECT {x:UInt32} + 1 AS v, {s:String} AS s, {arr:Array(String)} AS a",
                                    "param_x": "41", "param_s": "it's", "param_arr": "['p','q']",
                                    "default_format": "JSONEachRow"})
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(json.loads(resp.body), {"v": 42, "s": "it's", "a": ["p", "q"]})

    def test_multipart_query_parameters(self):
        # The shape the `clickhouse` crate sends when a query has parameters.
        boundary = "------chdbtestboundary"
        # Parameter values use ClickHouse's escaping, as in the URL form.
        fields = [("query", "SELECT {v:String} AS v, {n:UInt8} AS n"), ("param_v", "multi\\npart\\t'"), ("param_n", "7")]
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields) + f"--{boundary}--\r\n".encode()
        resp = request(SRV, "POST", {"default_format": "JSONEachRow"}, body,
                       {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(json.loads(resp.body), {"v": "multi\npart\t'", "n": 7})

    def test_ddl_and_inserts_in_body(self):
        self.q("CREATE TABLE body_t (a UInt64, b String) ENGINE = MergeTree ORDER BY a")
        self.q("INSERT INTO body_t VALUES (1, 'one'), (2, 'two')")
        self.q("INSERT INTO body_t SELECT number + 10, toString(number) FROM numbers(5)")
        self.q('INSERT INTO body_t FORMAT JSONEachRow\n{"a": 100, "b": "inline"}\n')
        resp = self.q("SELECT count(), sum(a) FROM body_t")
        self.assertEqual(resp.text, "8\t163\n")
        self.q("ALTER TABLE body_t DELETE WHERE a = 1", mutations_sync="2")
        self.assertEqual(self.q("SELECT count() FROM body_t").text, "7\n")
        self.q("DROP TABLE body_t")
        self.assertEqual(request(SRV, "POST", None, "SELECT * FROM body_t").status, 404)

    def test_insert_values_in_url_with_body(self):
        self.q("CREATE TABLE url_values (a UInt8) ENGINE = Memory")
        resp = request(SRV, "POST", {"query": "INSERT INTO url_values VALUES"}, "(4),(5),(6)")
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(self.q("SELECT sum(a) FROM url_values").text, "15\n")

    def test_chunked_json_each_row_insert(self):
        self.q("CREATE TABLE chunked_t (id UInt64, name String) ENGINE = MergeTree ORDER BY id")
        payload = "".join(json.dumps({"id": i, "name": f"n{i}"}) + "\n" for i in range(20000)).encode()
        # Chunk boundaries fall in the middle of rows.
        chunks = [payload[i:i + 7777] for i in range(0, len(payload), 7777)]
        resp = request(SRV, "POST", {"query": "INSERT INTO chunked_t (id, name) FORMAT JSONEachRow"}, chunks)
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.body, b"")
        self.assertEqual(json.loads(resp.header("X-ClickHouse-Summary"))["written_rows"], "20000")
        self.assertEqual(self.q("SELECT count(), sum(id) FROM chunked_t").text, f"20000\t{sum(range(20000))}\n")

    def test_gzip_request_body(self):
        self.q("CREATE TABLE gzip_t (x UInt32) ENGINE = Memory")
        body = gzip.compress(b"".join(b'{"x":%d}\n' % i for i in range(1000)))
        resp = request(SRV, "POST", {"query": "INSERT INTO gzip_t FORMAT JSONEachRow"}, body,
                       {"Content-Encoding": "gzip"})
        self.assertEqual(resp.status, 200, resp.body)
        resp = request(SRV, "POST", None, gzip.compress(b"SELECT sum(x) FROM gzip_t"), {"Content-Encoding": "gzip"})
        self.assertEqual(resp.text, f"{sum(range(1000))}\n")

    def test_row_binary_round_trip(self):
        self.q("CREATE TABLE rb_t (a UInt64, b String, c Float64) ENGINE = MergeTree ORDER BY a")
        rows = [(i, "s" * (i % 5) + "é", i / 3) for i in range(50000)]
        data = row_binary_rows(rows)
        chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
        resp = request(SRV, "POST", {"query": "INSERT INTO rb_t (a, b, c) FORMAT RowBinary"}, chunks)
        self.assertEqual(resp.status, 200, resp.body)
        resp = self.q("SELECT a, b, c FROM rb_t ORDER BY a FORMAT RowBinary")
        self.assertEqual(resp.header("Content-Type"), "application/octet-stream")
        self.assertEqual(resp.body, data)

        # With names and types: the header appears exactly once although the result is streamed
        # in several chunks, and an empty result still carries it.
        resp = self.q("SELECT a, b, c FROM rb_t ORDER BY a", default_format="RowBinaryWithNamesAndTypes")
        header = b"\x03\x01a\x01b\x01c\x06UInt64\x06String\x07Float64"
        self.assertEqual(resp.body, header + data)
        resp = self.q("SELECT a, b, c FROM rb_t WHERE a > 1e9", default_format="RowBinaryWithNamesAndTypes")
        self.assertEqual(resp.body, header)

    def test_text_header_formats_streamed_and_empty(self):
        resp = self.q("SELECT number AS n FROM numbers(200000) FORMAT TSVWithNames")
        lines = resp.text.splitlines()
        self.assertEqual(lines[0], "n")
        self.assertEqual(lines[1:], [str(i) for i in range(200000)])
        self.assertEqual(self.q("SELECT number AS n FROM numbers(0) FORMAT CSVWithNamesAndTypes").text,
                         '"n"\n"UInt64"\n')
        doc = json.loads(self.q("SELECT number AS n FROM numbers(0) FORMAT JSON").body)
        self.assertEqual((doc["rows"], doc["data"]), (0, []))
        self.assertEqual(self.q("SELECT 1 WHERE 0", default_format="JSONEachRow").body, b"")

    def test_large_result_is_streamed(self):
        resp = self.q("SELECT number, toString(number) AS s FROM numbers(500000)", default_format="JSONEachRow")
        self.assertTrue(resp.chunked)
        lines = resp.body.splitlines()
        self.assertEqual(len(lines), 500000)
        self.assertEqual(json.loads(lines[-1]), {"number": 499999, "s": "499999"})

    def test_wait_end_of_query_gives_one_framed_body(self):
        resp = self.q("SELECT number FROM numbers(100000)", wait_end_of_query="1")
        self.assertFalse(resp.chunked)
        self.assertEqual(int(resp.header("Content-Length")), len(resp.body))
        self.assertEqual(json.loads(resp.header("X-ClickHouse-Summary"))["result_rows"], "100000")

    def test_settings_apply_to_one_query_only(self):
        sql = "SELECT toDateTime('2024-01-02 03:04:05', 'UTC') AS d, getSetting('max_threads') AS t"
        resp = self.q(sql, date_time_output_format="iso", max_threads="1", default_format="JSONEachRow")
        self.assertEqual(json.loads(resp.body), {"d": "2024-01-02T03:04:05Z", "t": 1})
        resp = self.q(sql, default_format="JSONEachRow")
        self.assertEqual(json.loads(resp.body)["d"], "2024-01-02 03:04:05")
        self.assertNotEqual(json.loads(resp.body)["t"], 1)
        # Connection-level parameters are accepted and ignored.
        resp = self.q("SELECT 1", user="default", password="", session_id="s1", compress="0",
                      enable_http_compression="1")
        self.assertEqual(resp.text, "1\n")
        # An unknown setting is an error, as in ClickHouse; so is a bad value.
        resp = request(SRV, "POST", {"no_such_setting_xyz": "1"}, "SELECT 1")
        self.assertEqual((resp.status, resp.header("X-ClickHouse-Exception-Code")), (404, "115"))
        resp = request(SRV, "POST", {"max_threads": "lots"}, "SELECT 1")
        self.assertEqual(resp.status, 400)
        # Settings reach streaming inserts too.
        self.q("CREATE TABLE settings_t (a UInt8) ENGINE = Memory")
        params = {"query": "INSERT INTO settings_t FORMAT JSONEachRow"}
        resp = request(SRV, "POST", dict(params, input_format_skip_unknown_fields="0"), b'{"a":1,"extra":2}\n')
        self.assertEqual((resp.status, resp.header("X-ClickHouse-Exception-Code")), (400, "117"), resp.body)
        resp = request(SRV, "POST", dict(params, input_format_skip_unknown_fields="1"), b'{"a":1,"extra":2}\n')
        self.assertEqual(resp.status, 200, resp.body)

    def test_pooled_connections_keep_no_session_state(self):
        # The server reuses chDB connections between requests (Engine.session). As on ClickHouse's
        # HTTP interface without a session_id, nothing one request sets may reach the next one.
        self.q("CREATE DATABASE IF NOT EXISTS pool_db")
        for _ in range(3):
            self.q("SET max_threads = 1")
            self.assertNotEqual(self.q("SELECT getSetting('max_threads')").text, "1\n")
            self.q("USE pool_db")
            self.assertEqual(self.q("SELECT currentDatabase()").text, "default\n")
            self.q("SELECT 1", max_threads="1", log_comment="x", database="pool_db")
            self.assertEqual(self.q("SELECT currentDatabase(), getSetting('max_threads') = 1, "
                                    "getSetting('log_comment')").text, "default\t0\t\n")
            self.q("CREATE TEMPORARY TABLE pool_tmp (a UInt8)")
            self.assertEqual(self.q("EXISTS TEMPORARY TABLE pool_tmp").text, "0\n")
            # A failed setting leaves no half-applied state behind.
            resp = request(SRV, "POST", {"max_threads": "1", "max_block_size": "x"}, "SELECT 1")
            self.assertEqual(resp.status, 400)
            self.assertNotEqual(self.q("SELECT getSetting('max_threads')").text, "1\n")

    def test_database_parameter(self):
        self.q("CREATE DATABASE IF NOT EXISTS other_db")
        self.q("CREATE TABLE other_db.dbt (x UInt8) ENGINE = Memory")
        resp = request(SRV, "POST", {"database": "other_db", "query": "INSERT INTO dbt FORMAT JSONEachRow"}, b'{"x":9}\n')
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(self.q("SELECT currentDatabase(), sum(x) FROM dbt", database="other_db").text, "other_db\t9\n")
        self.assertEqual(self.q("SELECT currentDatabase()").text, "default\n")  # did not leak
        resp = request(SRV, "POST", {"database": "no_such_db"}, "SELECT 1")
        self.assertEqual((resp.status, resp.header("X-ClickHouse-Exception-Code")), (404, "81"))

    def test_errors(self):
        cases = [
            ("SELECT * FROM no_such_table", 404, 60),
            ("SELEC 1", 400, 62),
            ("SELECT throwIf(1, 'boom')", 500, 395),
            ("", 400, 62),
        ]
        for sql, status, code in cases:
            with self.subTest(sql=sql):
                resp = request(SRV, "POST", None, sql)
                self.assertEqual(resp.status, status, resp.body)
                self.assertEqual(resp.header("X-ClickHouse-Exception-Code"), str(code))
                self.assertTrue(resp.text.startswith(f"Code: {code}. DB::"), resp.text)
                self.assertTrue(resp.text.endswith("\n"))
        resp = request(SRV, "POST", {"query": "INSERT INTO no_such_table FORMAT JSONEachRow"}, [b'{"a":1}\n'] * 3)
        self.assertEqual((resp.status, resp.header("X-ClickHouse-Exception-Code")), (404, "60"))

    def test_rejected_insert_is_an_error_not_a_silent_drop(self):
        # chDB's own streaming inserter reports rows as written when the engine rejects the block
        # (here: arrays of one Nested group with different sizes); the server must answer an error
        # so that nothing unstored is acknowledged.
        self.q("CREATE TABLE rej (id String, `o.a` Array(String), `o.n` Array(Int64)) ENGINE = MergeTree ORDER BY id")
        resp = request(SRV, "POST", {"query": "INSERT INTO rej FORMAT JSONEachRow"}, [b'{"id":"1","o.a":["p"],"o.n":[1,2]}\n'])
        self.assertEqual(resp.status, 500, resp.body)
        self.assertEqual(resp.header("X-ClickHouse-Exception-Code"), "190")
        resp = request(SRV, "POST", {"query": "INSERT INTO rej FORMAT JSONEachRow"}, [b'{"id":"2","o.a":["p"],"o.n":[1]}\n'])
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(json.loads(resp.header("X-ClickHouse-Summary"))["written_rows"], "1")
        self.assertEqual(self.q("SELECT id FROM rej ORDER BY id").text, "2\n")

    def test_error_while_streaming_is_tagged(self):
        resp = self.q("SELECT number, throwIf(number = 150000, 'late boom') FROM numbers(200000)",
                      max_block_size="1000", max_threads="1", default_format="JSONEachRow")
        tag = resp.header("X-ClickHouse-Exception-Tag")
        self.assertTrue(tag)
        self.assertTrue(resp.body.endswith(b" " + tag.encode() + b"\r\n__exception__\r\n"), resp.body[-300:])
        self.assertIn(b"late boom", resp.body[-1000:])
        self.assertIn(b"\r\n__exception__\r\n" + tag.encode() + b"\r\nCode: 395.", resp.body)

    def test_keep_alive(self):
        conn = SRV.connection()
        try:
            self.assertEqual(request(SRV, "GET", path="/ping", conn=conn).status, 200)
            sock = conn.sock
            self.assertEqual(request(SRV, "POST", None, "CREATE TABLE ka_t (a UInt32) ENGINE = Memory", conn=conn).status, 200)
            for i in range(5):
                resp = request(SRV, "POST", {"query": "INSERT INTO ka_t FORMAT JSONEachRow"},
                               [b'{"a":%d}\n' % i, b'{"a":%d}\n' % (i + 100)], conn=conn)
                self.assertEqual(resp.status, 200, resp.body)
            self.assertEqual(request(SRV, "POST", None, "SELECT * FROM nope_ka", conn=conn).status, 404)
            # An error on an insert whose body the server never used still leaves the connection usable.
            resp = request(SRV, "POST", {"query": "INSERT INTO nope_ka FORMAT JSONEachRow"}, b'{"a":1}\n' * 1000, conn=conn)
            self.assertEqual(resp.status, 404)
            self.assertEqual(request(SRV, "GET", {"query": "SELECT 1 WHERE 0"}, conn=conn).body, b"")
            resp = request(SRV, "GET", {"query": "SELECT sum(a), count() FROM ka_t"}, conn=conn)
            self.assertEqual(resp.text, f"{sum(range(5)) + sum(range(100, 105))}\t10\n")
            big = request(SRV, "GET", {"query": "SELECT number FROM numbers(300000)"}, conn=conn)
            self.assertEqual(len(big.body.splitlines()), 300000)
            self.assertEqual(request(SRV, "GET", {"query": "SELECT 2"}, conn=conn).text, "2\n")
            self.assertIs(conn.sock, sock, "the connection was reopened")
        finally:
            conn.close()

    def test_parallel_requests(self):
        self.q("CREATE TABLE par_t (a UInt64) ENGINE = MergeTree ORDER BY a")
        errors = []

        def worker(n):
            try:
                for i in range(10):
                    resp = request(SRV, "POST", {"query": "INSERT INTO par_t FORMAT JSONEachRow"},
                                   b'{"a":%d}\n' % (n * 1000 + i))
                    assert resp.status == 200, resp.body
                    resp = request(SRV, "GET", {"query": "SELECT count() FROM par_t"})
                    assert resp.status == 200, resp.body
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(self.q("SELECT count() FROM par_t").text, "40\n")


    def test_kill_query_does_not_wait_behind_the_statement_it_stops(self):
        # The server runs one statement at a time; KILL QUERY runs outside that gate, finds the
        # statement by its log_comment setting in system.processes and cancels it
        # (https://clickhouse.com/docs/sql-reference/statements/kill#kill-query).
        slow = "SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number) % 7 = 3"
        result = {}

        def run():
            result["resp"] = request(SRV, "GET", {"query": slow, "log_comment": "py-kill-test"})

        t = threading.Thread(target=run)
        t.start()
        for _ in range(240):
            if not t.is_alive():
                break
            self.q("KILL QUERY WHERE Settings['log_comment'] = 'py-kill-test' ASYNC")
            t.join(0.5)
        self.assertFalse(t.is_alive(), "the statement was stopped")
        self.assertEqual(result["resp"].header("X-ClickHouse-Exception-Code"), "394", result["resp"].body)
        self.assertEqual(self.q("SELECT 1").text, "1\n")


class ConcurrentServerTest(unittest.TestCase):
    """With --max-concurrent-queries > 1, requests really run side by side in chDB."""

    def test_parallel_inserts_and_streaming_selects(self):
        data_dir = tempfile.mkdtemp(prefix="chdb_server_concurrent_")
        server = ServerProcess(data_dir, "--max-concurrent-queries", "4")
        try:
            resp = request(server, "POST", None, "CREATE TABLE c_t (a UInt64) ENGINE = MergeTree ORDER BY a")
            self.assertEqual(resp.status, 200, resp.body)
            errors = []

            def worker(n):
                try:
                    conn = server.connection()
                    for i in range(5):
                        body = b"".join(b'{"a":%d}\n' % (n * 100000 + i * 1000 + j) for j in range(1000))
                        resp = request(server, "POST", {"query": "INSERT INTO c_t FORMAT JSONEachRow"},
                                       [body[:3000], body[3000:]], conn=conn)
                        assert resp.status == 200, resp.body
                        resp = request(server, "GET", {"query": "SELECT number FROM numbers(200000)"}, conn=conn)
                        assert len(resp.body.splitlines()) == 200000
                    conn.close()
                except Exception as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            resp = request(server, "GET", {"query": "SELECT count(), uniqExact(a) FROM c_t"})
            self.assertEqual(resp.text, "20000\t20000\n")
        finally:
            self.assertEqual(server.stop(), 0)
            shutil.rmtree(data_dir, ignore_errors=True)


class SecretTest(unittest.TestCase):
    def test_queries_need_the_secret(self):
        # With CHDB_SERVER_SECRET set (the daemon always sets one), only a request carrying it as
        # ClickHouse's password runs SQL: in X-ClickHouse-Key, basic auth or the password parameter.
        # The answer otherwise is ClickHouse's AUTHENTICATION_FAILED (516) with HTTP 403.
        data_dir = tempfile.mkdtemp(prefix="chdb_server_secret_")
        server = ServerProcess(data_dir, env={"CHDB_SERVER_SECRET": "s3cret"})
        try:
            self.assertEqual(request(server, "GET", path="/ping").status, 200)  # health stays open
            for headers, params in [({}, None), ({"X-ClickHouse-Key": "wrong"}, None),
                                    ({}, {"password": "nope"}),
                                    ({"Authorization": "Basic " + base64.b64encode(b"default:x").decode()}, None)]:
                resp = request(server, "POST", params, "SELECT 1", headers=headers)
                self.assertEqual((resp.status, resp.header("X-ClickHouse-Exception-Code")), (403, "516"))
            basic = "Basic " + base64.b64encode(b"default:s3cret").decode()
            for headers, params in [({"X-ClickHouse-Key": "s3cret"}, None), ({"Authorization": basic}, None),
                                    ({}, {"password": "s3cret"})]:
                resp = request(server, "POST", params, "SELECT 1", headers=headers)
                self.assertEqual((resp.status, resp.text), (200, "1\n"))
        finally:
            self.assertEqual(server.stop(), 0)
            shutil.rmtree(data_dir, ignore_errors=True)


class LifecycleTest(unittest.TestCase):
    def test_clean_shutdown_and_restart_keeps_data(self):
        data_dir = tempfile.mkdtemp(prefix="chdb_server_restart_")
        try:
            server = ServerProcess(data_dir, "--max-concurrent-queries", "2")
            try:
                self.assertEqual(request(server, "POST", None,
                                         "CREATE TABLE kept (a UInt64, s String) ENGINE = MergeTree ORDER BY a").status, 200)
                resp = request(server, "POST", {"query": "INSERT INTO kept FORMAT JSONEachRow"},
                               [b'{"a":1,"s":"x"}\n', b'{"a":2,"s":"y"}\n'])
                self.assertEqual(resp.status, 200, resp.body)
            finally:
                self.assertEqual(server.stop(signal.SIGTERM), 0)

            server = ServerProcess(data_dir)
            try:
                resp = request(server, "GET", {"query": "SELECT a, s FROM kept ORDER BY a"})
                self.assertEqual(resp.text, "1\tx\n2\ty\n")
            finally:
                self.assertEqual(server.stop(signal.SIGINT), 0)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)

    def test_stops_when_parent_pid_dies(self):
        data_dir = tempfile.mkdtemp(prefix="chdb_server_parent_")
        parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        try:
            server = ServerProcess(data_dir, "--parent-pid", str(parent.pid))
            self.assertEqual(request(server, "GET", path="/ping").status, 200)
            parent.kill()
            parent.wait()
            self.assertEqual(server.proc.wait(timeout=30), 0)
            server.stop()
        finally:
            parent.kill()
            parent.wait()
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
