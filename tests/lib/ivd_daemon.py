"""Test helpers: start the real interviewd with a generated config, and drive it over WebSocket.

Used by tests/integration, tests/polly and the benchmarks.  Run with Debian's /usr/bin/python3
(python3-websockets 10.4).  Paths come from the environment ctest sets (tests/CMakeLists.txt):
IVD_BUILD_DIR (the build tree: bin/interviewd, lib/interviewd/plugins, share/interviewd) and
IVD_SOURCE_DIR.

    with Daemon({"tts.mock": {"pace": "realtime"}}) as daemon:   # starts, waits for "listening"
        result = asyncio.run(run_interview(daemon.url))
        assert result.end["reason"] == "completed"
        assert daemon.stop() == 0                                 # SIGTERM, exit status

Config: `sections` maps "section" -> {key: value}; they are merged over the defaults below
(mock TTS, the English sample bank, port 0, records in a temporary directory, the build's plugin
directory; every path absolute).  A value of None removes a key, a section of None removes the
section.
"""

import asyncio
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from urllib.parse import urlsplit

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mp3_format import frame_length as mp3_frame_length, strip_id3  # noqa: E402,F401

BUILD_DIR = os.environ.get("IVD_BUILD_DIR", "")
SOURCE_DIR = os.environ.get("IVD_SOURCE_DIR", "")

# Generous: under ASan+UBSan the daemon is several times slower, and the machine is shared.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
RECV_TIMEOUT = 30.0

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "LeakSanitizer", "ThreadSanitizer", "UndefinedBehaviorSanitizer")

LISTENING_RE = re.compile(r"listening on (ws://[^ ]+) \(tts ([^,]+), voice ([^,]+), questions ([^)]+)\)")


def build_path(*parts):
    """A path inside the build tree (IVD_BUILD_DIR)."""
    if not BUILD_DIR:
        raise RuntimeError("IVD_BUILD_DIR is not set (run the tests through ctest)")
    return os.path.join(BUILD_DIR, *parts)


def interviewd_path():
    return build_path("bin", "interviewd")


def plugin_dir():
    return build_path("lib", "interviewd", "plugins")


def data_path(*parts):
    return build_path("share", "interviewd", *parts)


def default_sections(tmp_dir):
    """The config every test daemon starts from."""
    return {
        "server": {"listen": "127.0.0.1", "port": "0"},
        "plugins": {"directory": plugin_dir()},
        "tts": {"backend": "mock"},
        "tts.mock": {"audio_dir": data_path("mock-audio")},
        "questions": {"source": "file"},
        "questions.file": {"path": data_path("questions-en.txt")},
        "records": {"directory": os.path.join(tmp_dir, "records")},
        "log": {"level": "info"},
    }


def merge_sections(base, overrides):
    merged = {name: dict(keys) for name, keys in base.items()}
    for name, keys in (overrides or {}).items():
        if keys is None:
            merged.pop(name, None)
            continue
        section = merged.setdefault(name, {})
        for key, value in keys.items():
            if value is None:
                section.pop(key, None)
            else:
                section[key] = str(value)
    return merged


def render_ini(sections):
    lines = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {value}" for key, value in keys.items())
        lines.append("")
    return "\n".join(lines)


def sanitizer_report(text):
    """The first sanitizer line in `text`, or None."""
    for line in text.splitlines():
        if any(marker in line for marker in SANITIZER_MARKERS):
            return line
    return None


def run_interviewd(args, timeout=START_TIMEOUT, env=None, cwd=None):
    """Run interviewd with `args` to completion; returns CompletedProcess (text stdout/stderr).
    Fails (AssertionError) if a sanitizer reported anything, whatever the exit status."""
    proc = subprocess.run([interviewd_path(), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd, errors="replace")
    report = sanitizer_report(proc.stderr)
    assert report is None, f"sanitizer report from interviewd {args}: {report}\n{proc.stderr}"
    return proc


def write_bank(path, questions):
    """Write a text question bank (one question per line)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("# test bank\n")
        for question in questions:
            f.write(question + "\n")
    return path


class Daemon:
    """One interviewd process with its own config, records directory and stderr log file."""

    def __init__(self, sections=None, tmp_dir=None, env=None, name="interviewd"):
        build_path()  # fail early, before creating anything, if IVD_BUILD_DIR is not set
        self._own_tmp = tmp_dir is None
        self.tmp_dir = tmp_dir or tempfile.mkdtemp(prefix="ivd-test-")
        self.sections = merge_sections(default_sections(self.tmp_dir), sections)
        self.config_path = os.path.join(self.tmp_dir, f"{name}.ini")
        self.log_path = os.path.join(self.tmp_dir, f"{name}.stderr")
        self.env = env
        self.proc = None
        self.url = None
        self.port = None
        self._log_file = None
        self.exit_code = None

    # ---- configuration -------------------------------------------------------------------
    @property
    def records_dir(self):
        return self.sections["records"]["directory"]

    def write_config(self):
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(render_ini(self.sections))
        return self.config_path

    # ---- process -------------------------------------------------------------------------
    def start(self, timeout=START_TIMEOUT):
        """Start the daemon and wait for its `listening on ws://...` line; returns the URL.
        Raises AssertionError (with the log) if it exits or does not listen in time."""
        self.write_config()
        # Append: a restarted daemon keeps the earlier lines, and offsets stay valid.
        self._log_file = open(self.log_path, "ab")
        self._log_start = self._log_file.tell()
        self.exit_code = None
        self.proc = subprocess.Popen([interviewd_path(), "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._log_file, env=self.env, cwd=self.tmp_dir)
        deadline = time.monotonic() + timeout
        while True:
            match = LISTENING_RE.search(self.log(since_start=True))
            if match:
                self.url = match.group(1)
                self.port = int(re.search(r":(\d+)/", self.url).group(1))
                return self.url
            if self.proc.poll() is not None:
                raise AssertionError(f"interviewd exited with {self.proc.returncode} before "
                                     f"listening:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"interviewd did not listen within {timeout} s:\n{self.log()}")
            time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT, sig=signal.SIGTERM):
        """Send SIGTERM (or `sig`) and wait; returns the exit status (negative: killed by a
        signal).  Kills it with SIGKILL and raises if it does not exit within `timeout`."""
        if self.proc is None:
            return self.exit_code
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._close_log()
                raise AssertionError(f"interviewd did not exit within {timeout} s of signal "
                                     f"{sig}:\n{self.log()}")
        self.exit_code = self.proc.returncode
        self._close_log()
        return self.exit_code

    def stop_clean(self, timeout=STOP_TIMEOUT):
        """SIGTERM, and assert exit status 0 and no sanitizer report in the log."""
        code = self.stop(timeout)
        log = self.log()
        assert code == 0, f"interviewd exited with {code}:\n{log}"
        report = sanitizer_report(log)
        assert report is None, f"sanitizer report: {report}\n{log}"
        return code

    def kill(self):
        """kill -9, wait for it, return the status."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.exit_code = self.proc.returncode
        self._close_log()
        return self.exit_code

    def _close_log(self):
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    # ---- log -----------------------------------------------------------------------------
    def log(self, since_start=False):
        """Everything the daemon wrote to stderr (since the last start() if since_start)."""
        try:
            with open(self.log_path, "rb") as f:
                if since_start:
                    f.seek(self._log_start)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def _log_match(self, regex, pattern, deadline, timeout, since_start):
        """One look at the log for wait_for_log/await_log: the match, or None to look again."""
        match = regex.search(self.log(since_start))
        if match:
            return match
        if not self.running():
            raise AssertionError(f"interviewd exited while waiting for /{pattern}/:\n{self.log()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line /{pattern}/ within {timeout} s:\n{self.log()}")
        return None

    def wait_for_log(self, pattern, timeout=RECV_TIMEOUT, since_start=True):
        """Wait until a log line matches the regex `pattern`; returns the match."""
        regex, deadline = re.compile(pattern), time.monotonic() + timeout
        while (match := self._log_match(regex, pattern, deadline, timeout, since_start)) is None:
            time.sleep(0.05)
        return match

    async def await_log(self, pattern, timeout=RECV_TIMEOUT):
        """wait_for_log for asyncio code (does not block the event loop)."""
        regex, deadline = re.compile(pattern), time.monotonic() + timeout
        while (match := self._log_match(regex, pattern, deadline, timeout, True)) is None:
            await asyncio.sleep(0.05)
        return match

    def rss_kb(self):
        """VmRSS of the daemon in KiB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc/PID/status")

    # ---- records -------------------------------------------------------------------------
    def session_dir(self, session_id):
        return os.path.join(self.records_dir, session_id)

    def records(self, session_id):
        """The complete lines of <records>/<session_id>/session.jsonl as dicts.  A last line cut
        short by a crash (no newline) is ignored, as the protocol allows."""
        with open(os.path.join(self.session_dir(session_id), "session.jsonl"), "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        return [json.loads(line) for line in lines[:-1] if line]

    def closed_records(self, session_id, timeout=RECV_TIMEOUT):
        """records() once the session's last line, session_end, is written (the daemon writes it
        on a worker after the connection closed)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                records = self.records(session_id)
            except FileNotFoundError:
                records = []
            if records and records[-1]["type"] == "session_end":
                return records
            assert time.monotonic() < deadline, f"session {session_id} has no session_end: {records}"
            time.sleep(0.05)

    def wait_no_answer_files(self, session_id, timeout=RECV_TIMEOUT):
        """Wait until the session directory holds no answer-* file (an unfinished upload is
        removed by the session's teardown, on a worker, shortly after its session_end line).
        Returns the names still there at the deadline ([] on success)."""
        deadline = time.monotonic() + timeout
        while True:
            left = sorted(n for n in os.listdir(self.session_dir(session_id)) if n.startswith("answer-"))
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    # ---- context manager -----------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        if self.running():
            self.kill()
        self._close_log()
        if self._own_tmp and not os.environ.get("IVD_KEEP_TMP"):
            shutil.rmtree(self.tmp_dir, ignore_errors=True)
        return False


class SharedDaemonTest(unittest.TestCase):
    """Test cases that share one daemon, started before the first test with the config
    overrides in `daemon_sections` and stopped cleanly (exit 0, no sanitizer report) after the last."""

    daemon_sections = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(cls.daemon_sections)
        cls.daemon.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.daemon.stop_clean()
        finally:
            cls.daemon.__exit__(None, None, None)


# ---- MP3 -----------------------------------------------------------------------------------

def mp3_frames(data):
    """Split `data` into whole MP3 frames; raises AssertionError unless it starts with a frame
    header and ends exactly at the end of a frame."""
    frames, pos = [], 0
    while pos < len(data):
        length = mp3_frame_length(data, pos)
        assert length > 0, f"no MP3 frame header at byte {pos} of {len(data)}"
        assert pos + length <= len(data), \
            f"MP3 frame at byte {pos} is {length} bytes long but only {len(data) - pos} remain"
        frames.append(data[pos:pos + length])
        pos += length
    return frames


def mock_audio_file(text, audio_dir=None):
    """The file the mock backend replays for `text`: <sha256 of the UTF-8 text>.mp3 in
    audio_dir if it exists, else default.mp3 (tests do not use custom manifests for this)."""
    audio_dir = audio_dir or data_path("mock-audio")
    path = os.path.join(audio_dir, hashlib.sha256(text.encode("utf-8")).hexdigest() + ".mp3")
    return path if os.path.exists(path) else os.path.join(audio_dir, "default.mp3")


def expected_mock_audio(text, audio_dir=None):
    """The bytes a client must receive for `text` from the mock: its file minus ID3 tags."""
    with open(mock_audio_file(text, audio_dir), "rb") as f:
        return strip_id3(f.read())


# ---- WebSocket client helpers --------------------------------------------------------------

async def connect(url, **kwargs):
    """websockets.connect with the settings the tests use (no size limit, no compression)."""
    kwargs.setdefault("max_size", None)
    kwargs.setdefault("compression", None)
    kwargs.setdefault("open_timeout", RECV_TIMEOUT)
    kwargs.setdefault("ping_interval", None)
    kwargs.setdefault("close_timeout", 5)
    return await websockets.connect(url, **kwargs)


async def recv(ws, timeout=RECV_TIMEOUT):
    """The next message: bytes for a binary frame, a dict for a JSON text frame."""
    message = await asyncio.wait_for(ws.recv(), timeout)
    if isinstance(message, bytes):
        return message
    return json.loads(message)


async def recv_json(ws, timeout=RECV_TIMEOUT, skip_binary=False):
    """The next text message as a dict; binary frames before it fail the test unless
    skip_binary."""
    while True:
        message = await recv(ws, timeout)
        if isinstance(message, bytes):
            assert skip_binary, f"expected a JSON message, got {len(message)} bytes of binary"
            continue
        return message


async def expect_type(ws, type_, timeout=RECV_TIMEOUT, **fields):
    """Receive the next JSON message, assert its type (and the given field values); return it."""
    message = await recv_json(ws, timeout)
    assert message.get("type") == type_, f"expected {type_}, got {message}"
    for key, value in fields.items():
        assert message.get(key) == value, f"{type_}.{key}: expected {value!r}, got {message}"
    return message


async def skip_until(ws, type_, timeout=RECV_TIMEOUT):
    """Read up to the first JSON message of type `type_`; returns (it, the JSON messages skipped
    before it, the binary frames skipped before it)."""
    skipped, frames = [], []
    while True:
        message = await recv(ws, timeout)
        if isinstance(message, bytes):
            frames.append(message)
        elif message.get("type") == type_:
            return message, skipped, frames
        else:
            skipped.append(message)


async def expect_close(ws, timeout=RECV_TIMEOUT):
    """Wait for the server to close; returns the close code (messages before it fail the test)."""
    try:
        message = await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else 1006  # 1006: closed without a close frame
    raise AssertionError(f"expected the connection to close, got {message!r:.200}")


async def read_question_audio(ws, timeout=RECV_TIMEOUT):
    """After question_start: the binary frames up to question_end.  Returns (frames, question_end
    and any error message before it).  Any other message in between fails the test."""
    frames, errors = [], []
    while True:
        message = await recv(ws, timeout)
        if isinstance(message, bytes):
            frames.append(message)
        elif message.get("type") == "question_end":
            return frames, message, errors
        elif message.get("type") == "error":
            errors.append(message)
        else:
            raise AssertionError(f"unexpected message while streaming a question: {message}")


class Question:
    """What a client saw of one question."""

    def __init__(self, start):
        self.start = start
        self.frames = []
        self.end = None
        self.errors = []
        self.saved = None

    @property
    def text(self):
        return self.start["text"]

    @property
    def audio(self):
        return b"".join(self.frames)


class Interview:
    """What a client saw of a whole session."""

    def __init__(self):
        self.session_start = None
        self.questions = []
        self.end = None
        self.close_code = None

    @property
    def session_id(self):
        return self.session_start["session_id"]


async def run_interview(url, answer=None, timeout=RECV_TIMEOUT, ws=None, **connect_kwargs):
    """Run a whole interview: for each question, read its audio, then answer it.

    `answer(question) -> dict or None` returns the client message to send after question_end
    (default: a text answer); it may also be a coroutine function taking (ws, question) for
    custom exchanges (then it must leave the session waiting for answer_saved or the next
    question_start).  Returns an Interview; close_code is the server's close code."""
    if answer is None:
        def answer(question):
            return {"type": "answer", "text": f"Answer to {question.start['id']}."}
    result = Interview()
    own = ws is None
    if own:
        ws = await connect(url, **connect_kwargs)
    try:
        result.session_start = await expect_type(ws, "session_start", timeout)
        message = await recv_json(ws, timeout)
        while message["type"] == "question_start":
            question = Question(message)
            result.questions.append(question)
            question.frames, question.end, question.errors = await read_question_audio(ws, timeout)
            if asyncio.iscoroutinefunction(answer):
                await answer(ws, question)
            else:
                reply = answer(question)
                if reply is not None:
                    await ws.send(json.dumps(reply))
            message = await recv_json(ws, timeout)
            if message["type"] == "answer_saved":
                question.saved = message
                message = await recv_json(ws, timeout)
        assert message["type"] == "interview_end", f"expected interview_end, got {message}"
        result.end = message
        result.close_code = await expect_close(ws, timeout)
    finally:
        if own:
            await ws.close()
    return result


def check_mp3_messages(frames, chunk_bytes):
    """Assert every binary message is at most chunk_bytes (unless it is a single frame) and is
    whole MP3 frames.  Returns the number of MP3 frames."""
    count = 0
    for i, message in enumerate(frames):
        parsed = mp3_frames(message)
        assert len(message) <= chunk_bytes or len(parsed) == 1, \
            f"binary message {i} is {len(message)} bytes, over chunk_bytes {chunk_bytes}"
        count += len(parsed)
    return count


def check_mock_audio(question, chunk_bytes, audio_dir=None):
    """Assert a question's audio is whole-frame messages that add up to the mock's file."""
    check_mp3_messages(question.frames, chunk_bytes)
    expected = expected_mock_audio(question.text, audio_dir)
    audio = question.audio
    assert audio == expected, (f"question {question.start['index']}: got {len(audio)} bytes of "
                               f"audio, expected {len(expected)} (the mock's file)")
    assert question.end["audio_bytes"] == len(audio), \
        f"question_end audio_bytes {question.end['audio_bytes']} != {len(audio)} bytes received"


def read_bank(path):
    """The questions of a text bank file, in order."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#")]


def raw_upgrade(url, rcvbuf=None, timeout=RECV_TIMEOUT):
    """A plain TCP socket that has completed the WebSocket upgrade and then reads nothing more:
    a stalled client.  `rcvbuf` sets SO_RCVBUF before connecting (a small one makes the daemon's
    data back up sooner).  Returns the socket; bytes after the response headers are left unread."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect((parts.hostname, parts.port))
    key = base64.b64encode(os.urandom(16)).decode()
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        byte = sock.recv(1)  # one at a time: stop exactly at the end of the headers
        assert byte, f"connection closed during the upgrade: {response!r}"
        response += byte
    status = response.split(b"\r\n", 1)[0]
    assert b" 101 " in status + b" ", f"upgrade refused: {status!r}"
    return sock


def drain_until_closed(sock, timeout=RECV_TIMEOUT):
    """Read a socket until the peer closes it; returns the number of bytes read.  Raises
    AssertionError if it is still open after `timeout` seconds."""
    total = 0
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"the connection is still open after {timeout} s ({total} bytes read)"
        sock.settimeout(remaining)
        try:
            data = sock.recv(1 << 16)
        except ConnectionResetError:
            return total
        except socket.timeout:
            continue
        if not data:
            return total
        total += len(data)
