"""The WebSocket handshake: path (404), session parameter limits (400), allowed_origins (403), /healthz."""
import asyncio
import base64
import http.client
import os
import sys
import unittest
import urllib.error
import urllib.request
from urllib.parse import urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402

ALLOWED = "https://interview.example.com"


class Handshake(ivd.SharedDaemonTest):
    daemon_sections = {"server": {"allowed_origins": f"{ALLOWED} http://localhost:3000"}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.http = cls.daemon.url.replace("ws://", "http://").split("/api/")[0]

    def status_of(self, url, origin=ALLOWED):
        """The HTTP status of the upgrade request: 101 if accepted (and then a session starts).
        http.client, not websockets, reads refusals: libwebsockets answers them as HTTP/1.0,
        which the websockets client does not parse."""
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=ivd.RECV_TIMEOUT)
        headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
        if origin:
            headers["Origin"] = origin
        try:
            connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                               headers=headers)
            status = connection.getresponse().status
        finally:
            connection.close()
        if status == 101:
            async def session():
                ws = await ivd.connect(url, origin=origin)
                start = await ivd.expect_type(ws, "session_start")
                await ws.close()
                return start

            self.assertTrue(asyncio.run(session())["session_id"])
        return status

    def test_path(self):
        base = self.daemon.url.split("/api/")[0]
        self.assertEqual(self.status_of(base + "/api/v1/ws/other"), 404)
        self.assertEqual(self.status_of(base + "/"), 404)
        self.assertEqual(self.status_of(self.daemon.url), 101)

    def test_session_parameter_limits(self):
        url = self.daemon.url
        sixteen = "&".join(f"k{i}=v" for i in range(16))
        self.assertEqual(self.status_of(f"{url}?{sixteen}"), 101)
        self.assertEqual(self.status_of(f"{url}?{sixteen}&k16=v"), 400)
        self.assertEqual(self.status_of(f"{url}?{'k' * 64}={'v' * 256}"), 101)
        self.assertEqual(self.status_of(f"{url}?{'k' * 65}=v"), 400)
        self.assertEqual(self.status_of(f"{url}?k={'v' * 257}"), 400)

    def test_allowed_origins(self):
        self.assertEqual(self.status_of(self.daemon.url, origin=ALLOWED), 101)
        self.assertEqual(self.status_of(self.daemon.url, origin="http://localhost:3000"), 101)
        self.assertEqual(self.status_of(self.daemon.url, origin="https://evil.example.com"), 403)
        self.assertEqual(self.status_of(self.daemon.url, origin=None), 403)

    def test_healthz(self):
        with urllib.request.urlopen(self.http + "/healthz", timeout=ivd.RECV_TIMEOUT) as response:
            self.assertEqual(response.status, 200)
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(self.http + "/nothing-here", timeout=ivd.RECV_TIMEOUT)
        self.assertEqual(refused.exception.code, 404)


if __name__ == "__main__":
    unittest.main()
