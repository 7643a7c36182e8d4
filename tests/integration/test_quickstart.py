"""The README quick start: `tools/quickstart.sh run` comes up on ws://127.0.0.1:8000 and serves a whole interview.

It listens on the fixed port 8000 and builds its build directory (<source>/build, or
IVD_QUICKSTART_BUILD_DIR if the script honours it: the test passes the tree ctest is testing), so
ctest runs it under RESOURCE_LOCK (tests/integration/CMakeLists.txt); anything else on this
machine using port 8000 makes it fail with a message saying so."""
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402

URL = "ws://127.0.0.1:8000/api/v1/ws/interview"
BUILD_TIMEOUT = 600  # the first run builds everything


def port_in_use(port):
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Quickstart(unittest.TestCase):
    def test_quickstart_run(self):
        script = os.path.join(ivd.SOURCE_DIR, "tools", "quickstart.sh")
        self.assertTrue(os.access(script, os.X_OK), f"{script} must be executable")
        self.assertFalse(port_in_use(8000), "port 8000 is already in use: stop whatever serves "
                                            "on it (the quick start needs it)")
        with tempfile.TemporaryDirectory(prefix="ivd-quickstart-") as work:
            log_path = os.path.join(work, "quickstart.log")
            env = dict(os.environ, IVD_QUICKSTART_BUILD_DIR=ivd.BUILD_DIR)
            with open(log_path, "wb") as log:
                # Its own process group: on failure the build and the daemon are stopped together.
                proc = subprocess.Popen([script, "run"], cwd=work, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                        env=env)

            def read_log():
                with open(log_path, "rb") as f:
                    return f.read().decode("utf-8", "replace")

            try:
                deadline = time.monotonic() + BUILD_TIMEOUT
                while not re.search(r"listening on ws://127\.0\.0\.1:8000/api/v1/ws/interview", read_log()):
                    self.assertIsNone(proc.poll(), f"quickstart.sh exited with {proc.returncode}:\n{read_log()}")
                    self.assertLess(time.monotonic(), deadline, f"not listening in time:\n{read_log()}")
                    time.sleep(0.2)
                self.assertNotIn("quickstart: installing", read_log(),
                                 "every package is installed: nothing should be installed")
                self.assertIn("(tts mock, voice mock, questions file)", read_log())

                result = asyncio.run(ivd.run_interview(URL, timeout=60))
                self.assertEqual(result.end["reason"], "completed")
                self.assertEqual(result.close_code, 1000)
                bank = ivd.read_bank(os.path.join(ivd.SOURCE_DIR, "conf", "questions-en.txt"))
                self.assertEqual([q.text for q in result.questions], bank)
                for question in result.questions:
                    self.assertTrue(question.frames)
                    ivd.check_mp3_messages(question.frames, result.session_start["chunk_bytes"])

                # `exec`: the script's process is now the daemon; SIGTERM stops it cleanly.
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(60), 0, read_log())
                self.assertIsNone(ivd.sanitizer_report(read_log()))
                # Records land in ./interviewd-records of the working directory.
                session = os.path.join(work, "interviewd-records", result.session_id, "session.jsonl")
                self.assertTrue(os.path.exists(session), f"no {session}")
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


if __name__ == "__main__":
    unittest.main()
