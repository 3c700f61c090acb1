"""The official Elasticsearch Python client against elastichouse with security on.

Starts the daemon binary (target/debug/elastichouse, built by `cargo test`) on the embedded engine
with a configuration that has users and a role, then uses `elasticsearch.Elasticsearch` with basic
auth and with an API key, as an application would (elasticsearch-py's `basic_auth=` and
`api_key=`). Elasticsearch behaviour reproduced: security-api-authenticate.html,
security-api-create-api-key.html; 401 AuthenticationException and 403 AuthorizationException are
what the client raises for Elasticsearch's security_exception answers.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "target" / "debug" / "elastichouse"

try:
    import elasticsearch
    from elasticsearch import Elasticsearch
except ImportError:  # scripts/setup installs it
    elasticsearch = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bcrypt_hash(password):
    out = subprocess.run([str(BINARY), "hash-password"], input=password + "\n",
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@unittest.skipIf(elasticsearch is None, "the elasticsearch client is not installed (scripts/setup)")
@unittest.skipUnless(BINARY.exists(), "build the daemon first (cargo test builds it)")
class OfficialClientWithSecurity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="eh-auth-")
        cls.port, ui = free_port(), free_port()
        config = Path(cls.work) / "elastichouse.toml"
        config.write_text(f"""
listen = "127.0.0.1:{cls.port}"
ui_listen = "127.0.0.1:{ui}"
data_dir = "{cls.work}/data"

[security]
[[security.users]]
username = "elastic"
password_hash = "{bcrypt_hash('changeme')}"
roles = ["superuser"]

[[security.users]]
username = "reader"
password_hash = "{bcrypt_hash('readerpw')}"
roles = ["logs_reader"]

[security.roles.logs_reader]
indices = [{{ names = ["pyauth-logs-*"], privileges = ["read"] }}]
""")
        env = {**os.environ, "ELASTICHOUSE_PYTHON": os.environ.get("ELASTICHOUSE_PYTHON", str(ROOT / ".venv/bin/python"))}
        cls.log = open(Path(cls.work) / "daemon.log", "w")
        cls.proc = subprocess.Popen([str(BINARY), "--config", str(config)], env=env,
                                    stdout=cls.log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{cls.port}"
        cls.admin = Elasticsearch(url, basic_auth=("elastic", "changeme"), request_timeout=30)
        deadline = time.time() + 120
        while True:
            try:
                cls.admin.info()
                break
            except Exception:
                if time.time() > deadline or cls.proc.poll() is not None:
                    raise
                time.sleep(0.3)
        cls.url = url

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=60)
        cls.log.close()
        shutil.rmtree(cls.work, ignore_errors=True)

    def test_basic_auth_index_and_search(self):
        self.admin.index(index="pyauth-logs-1", id="1", document={"msg": "hello"}, refresh=True)
        who = self.admin.security.authenticate()
        self.assertEqual(who["username"], "elastic")
        reader = Elasticsearch(self.url, basic_auth=("reader", "readerpw"))
        self.assertEqual(reader.search(index="pyauth-logs-1*")["hits"]["total"]["value"], 1)
        with self.assertRaises(elasticsearch.AuthorizationException) as denied:
            reader.index(index="pyauth-logs-1", document={"msg": "nope"})
        self.assertEqual(denied.exception.meta.status, 403)
        self.assertEqual(denied.exception.body["error"]["type"], "security_exception")

    def test_wrong_password_and_no_credentials(self):
        for client in (Elasticsearch(self.url, basic_auth=("elastic", "wrong")), Elasticsearch(self.url)):
            with self.assertRaises(elasticsearch.AuthenticationException) as failed:
                client.info()
            self.assertEqual(failed.exception.meta.status, 401)
            self.assertIn("WWW-Authenticate", failed.exception.meta.headers)

    def test_api_key(self):
        self.admin.index(index="pyauth-logs-2", id="1", document={"msg": "key"}, refresh=True)
        key = self.admin.security.create_api_key(
            name="py-client",
            role_descriptors={"r": {"indices": [{"names": ["pyauth-logs-*"], "privileges": ["read"]}]}})
        client = Elasticsearch(self.url, api_key=key["encoded"])
        self.assertEqual(client.security.authenticate()["authentication_type"], "api_key")
        self.assertEqual(client.count(index="pyauth-logs-2")["count"], 1)
        # The tuple form (id, api_key) is the same key.
        self.assertEqual(Elasticsearch(self.url, api_key=(key["id"], key["api_key"])).count(index="pyauth-logs-2")["count"], 1)
        self.admin.security.invalidate_api_key(ids=[key["id"]])
        with self.assertRaises(elasticsearch.AuthenticationException):
            client.count(index="pyauth-logs-2")


if __name__ == "__main__":
    unittest.main()
