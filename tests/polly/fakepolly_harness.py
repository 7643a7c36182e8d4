"""Test-side helpers for fake_polly.py: start it as a subprocess, read its log, configure it.

    with FakePolly(tmp_dir, keys=[("AKIDTEST", "secret")]) as fake:
        fake.url, fake.ca_file, fake.metadata_url
        fake.requests()           # the JSON log of Polly requests (see README.md)
        fake.config(first_byte_delay_ms=500)
"""

import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_polly.py")
PYTHON = os.environ.get("IVD_PYTHON") or "/usr/bin/python3"
START_TIMEOUT = 60.0

TEST_KEY_ID = "AKIDFAKEPOLLYTEST01"
TEST_SECRET = "fakeSecret/K7MDENG+bPxRfiCYFAKEPOLLYKEY"
REGION = "ap-northeast-2"


def default_mp3():
    """The build's espeak-ng+lame MP3, or the one in the source's build dir if run by hand."""
    build = os.environ.get("IVD_BUILD_DIR", "")
    path = os.path.join(build, "share", "interviewd", "mock-audio", "default.mp3")
    if not os.path.exists(path):
        raise RuntimeError(f"no MP3 at {path} (is IVD_BUILD_DIR set and the build complete?)")
    return path


class FakePolly:
    """One fake_polly.py process with its own TLS directory."""

    def __init__(self, tmp_dir=None, keys=((TEST_KEY_ID, TEST_SECRET),), region=REGION, mp3=None,
                 extra_args=(), tls_dir=None):
        self._own_tmp = tmp_dir is None
        self.tmp_dir = tmp_dir or tempfile.mkdtemp(prefix="fake-polly-")
        self.tls_dir = tls_dir or os.path.join(self.tmp_dir, "tls")
        self.port_file = os.path.join(self.tmp_dir, "fake-polly.json")
        self.log_path = os.path.join(self.tmp_dir, "fake-polly.log")
        self.region = region
        self.args = [PYTHON, FAKE, "--tls-dir", self.tls_dir, "--port-file", self.port_file,
                     "--mp3", mp3 or default_mp3(), "--region", region]
        for key in keys:
            self.args += ["--key", ":".join(key)]
        self.args += list(extra_args)
        self.proc = None
        self.info = None
        self._ssl = None

    def start(self):
        os.makedirs(self.tmp_dir, exist_ok=True)
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise AssertionError(f"fake_polly.py exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"fake_polly.py not ready in {START_TIMEOUT} s:\n{self.log()}")
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.info = json.load(f)
        self._ssl = ssl.create_default_context(cafile=self.ca_file)
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    @property
    def url(self):
        return self.info["polly_url"]

    @property
    def port(self):
        return self.info["polly_port"]

    @property
    def metadata_url(self):
        return self.info["metadata_url"]

    @property
    def ca_file(self):
        return self.info["ca_file"]

    # ---- control API ---------------------------------------------------------------------
    def _call(self, path, payload=None, raw=False):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.url + path, data=data, method="POST" if data is not None else "GET",
                                         headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(request, context=self._ssl, timeout=30) as response:
            body = response.read()
        return body if raw else json.loads(body)

    def requests(self, kind="SynthesizeSpeech"):
        """The log of Polly requests (optionally only one operation), oldest first."""
        entries = self._call("/_fake/requests")["requests"]
        return [e for e in entries if kind is None or e["kind"] == kind]

    def metadata(self):
        return self._call("/_fake/metadata")["requests"]

    def served(self, seq):
        """The exact audio bytes the fake meant to serve for request `seq`."""
        return self._call(f"/_fake/served/{seq}", raw=True)

    def config(self, **changes):
        return self._call("/_fake/config", changes if changes else None)

    def reset(self):
        return self._call("/_fake/reset", {})

    def keys(self):
        """Every key the fake accepts (static and issued), with secrets and tokens."""
        return self._call("/_fake/keys")["keys"]

    def expire_credentials(self):
        return self._call("/_fake/expire-credentials", {})["expired"]

    # ---- process -------------------------------------------------------------------------
    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self._own_tmp and not os.environ.get("IVD_KEEP_TMP"):
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
        return False


def skip(message):
    """Exit with ctest's SKIP_RETURN_CODE (77) and a reason."""
    print(f"SKIP: {message}", flush=True)
    sys.exit(77)
