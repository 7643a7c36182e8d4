"""A client written for the original service (question_start text, binary MP3, question_end, error) completes an interview."""
import asyncio
import json
import os
import re
import subprocess
import sys
import unittest

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402


async def legacy_client(url):
    """Knows only question_start (text), binary frames, question_end and error (message);
    ignores every other message, and answers after each question_end.  Default client settings."""
    shown, audio_per_question, errors = [], [], []
    audio = bytearray()
    async with websockets.connect(url) as ws:
        async for message in ws:
            if isinstance(message, bytes):
                audio += message
                continue
            event = json.loads(message)
            if event["type"] == "question_start":
                shown.append(event["text"])
                audio = bytearray()
            elif event["type"] == "question_end":
                audio_per_question.append(bytes(audio))
                await ws.send(json.dumps({"type": "answer", "text": "My answer."}))
            elif event["type"] == "error":
                errors.append(event["message"])
        close_code = ws.close_code
    return shown, audio_per_question, errors, close_code


class LegacyClient(unittest.TestCase):
    def test_legacy_client_completes(self):
        bank = ivd.read_bank(ivd.data_path("questions-en.txt"))
        with ivd.Daemon() as daemon:
            shown, audio, errors, close_code = asyncio.run(
                asyncio.wait_for(legacy_client(daemon.url), 60))
            self.assertEqual(shown, bank)
            self.assertEqual(errors, [])
            self.assertEqual(close_code, 1000)
            for text, received in zip(bank, audio):
                self.assertEqual(received, ivd.expected_mock_audio(text))
            daemon.stop_clean()

    def test_readme_example_client(self):
        """The client printed in README.md works as shown, against a daemon on any port."""
        with open(os.path.join(ivd.SOURCE_DIR, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        blocks = re.findall(r"/usr/bin/python3 - <<'PY'\n(.*?)\nPY\n", readme, re.S)
        self.assertEqual(len(blocks), 1, "README.md should show one Python client")
        default_url = "ws://127.0.0.1:8000/api/v1/ws/interview"
        self.assertIn(default_url, blocks[0])
        bank = ivd.read_bank(ivd.data_path("questions-en.txt"))
        with ivd.Daemon() as daemon:
            script = blocks[0].replace(default_url, daemon.url)
            proc = subprocess.run(["/usr/bin/python3", "-"], input=script, capture_output=True,
                                  text=True, timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            printed = [line for line in proc.stdout.splitlines() if "'question_start'" in line]
            self.assertEqual(len(printed), len(bank), proc.stdout)
            self.assertIn("'interview_end'", proc.stdout)
            sizes = [int(n) for n in re.findall(r"\((\d+) bytes of MP3\)", proc.stdout)]
            self.assertEqual(sizes, [len(ivd.expected_mock_audio(text)) for text in bank])
            daemon.stop_clean()


if __name__ == "__main__":
    unittest.main()
