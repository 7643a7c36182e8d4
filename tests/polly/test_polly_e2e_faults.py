"""End to end: Polly failures reach the client as the protocol says (error code, then question_end
with complete=false), retries happen only where they may, no audio is duplicated, nothing hangs."""
import asyncio
import os
import re
import sys
import tempfile
import unittest

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from polly_e2e import (FakePolly, audio_records, check_secrets_absent, ivd, polly_sections,  # noqa: E402
                       require_plugin, requests_for, run, served_audio, static_env, write_json_bank)

MARKER_RE = re.compile(r"\[\[fake:[^\]]*\]\]")


class PollyFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="polly-e2e-faults-")
        cls.fake = FakePolly(os.path.join(cls.tmp, "fake"), extra_args=["--lexicon", "interviewTerms"])
        cls.fake.start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def daemon(self, name, bank, env=None, backend="polly-neural", **options):
        sections = polly_sections(self.fake, bank, backend=backend, **options)
        tmp = tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp)
        return ivd.Daemon(sections, tmp_dir=tmp, env=env or static_env(tmp), name=name)

    def check_failed(self, question, code):
        self.assertEqual(len(question.errors), 1, f"{question.text!r}: {question.errors}")
        error = question.errors[0]
        self.assertEqual(error["code"], code, f"{question.text!r}: {error}")
        self.assertEqual(error.get("index"), question.start["index"])
        # Short and for people: no AWS error names, ARNs or request ids.
        self.assertLess(len(error["message"]), 120, error)
        self.assertNotRegex(error["message"], r"Exception|arn:|[0-9a-f]{8}-[0-9a-f]{4}-", error)
        self.assertIs(question.end.get("complete"), False, question.end)
        self.assertEqual(question.end["audio_bytes"], len(question.audio))

    def check_ok(self, question, attempts):
        self.assertEqual(question.errors, [], question.text)
        self.assertNotIn("complete", question.end)
        entries = requests_for(self.fake, question.text)
        self.assertEqual(len(entries), attempts, f"{question.text!r}: attempts seen by the fake")
        self.assertEqual([e["attempt"] for e in entries], list(range(1, attempts + 1)))
        self.assertEqual(question.audio, served_audio(self.fake, entries[-1:]))
        self.assertEqual([e["status"] == 200 and e.get("complete") for e in entries].count(True), 1)
        return entries

    def test_faults_and_retries(self):
        q = {
            "throttle": "Always busy. [[fake:throttle]]",
            "throttle_once": "Busy once. [[fake:throttle-once]]",
            "fail500": "Always broken. [[fake:500]]",
            "fail500_once": "Broken once. [[fake:500-once]]",
            "fail503_once": "Unavailable once. [[fake:503-once]]",
            "bad_gateway_once": "A proxy said no once. [[fake:502-once]]",
            "denied": "Not allowed. [[fake:access-denied]]",
            "cut": "Cut in the middle. [[fake:cut-after=3000]]",
            "reset": "Reset in the middle. [[fake:reset-after=5000,transfer=length]]",
            "hang_once": "Slow to answer once. [[fake:hang-once]]",
            "stall": "Stalls after some audio. [[fake:stall-after=2000]]",
            "after": "And the session goes on.",
        }
        bank = ivd.write_bank(os.path.join(self.tmp, "faults.txt"), list(q.values()))
        with self.daemon("faults", bank, timeout_ms=4000, max_attempts=3) as daemon:
            result = run(daemon.url, timeout=60)
            by = {name: result.questions[i] for i, name in enumerate(q)}
            self.assertEqual(result.end["reason"], "completed")
            self.assertEqual(len(result.questions), len(q))

            self.check_failed(by["throttle"], "tts_throttled")
            self.assertEqual(len(requests_for(self.fake, q["throttle"])), 3, "max_attempts = 3 attempts")
            self.check_failed(by["fail500"], "tts_unavailable")
            self.assertEqual(len(requests_for(self.fake, q["fail500"])), 3)
            for name in ("throttle_once", "fail500_once", "fail503_once", "bad_gateway_once", "hang_once"):
                self.check_ok(by[name], attempts=2)
            self.check_ok(by["after"], attempts=1)

            self.check_failed(by["denied"], "tts_credentials")
            self.assertEqual(len(requests_for(self.fake, q["denied"])), 1, "AccessDenied is not retried")
            self.assertEqual(by["denied"].audio, b"")

            # Streams that break after audio was sent: an error, no retry, no duplicated audio.
            for name, limit in (("cut", 3000), ("reset", 5000), ("stall", 2000)):
                question = by[name]
                self.check_failed(question, "tts_unavailable")
                entries = requests_for(self.fake, q[name])
                self.assertEqual(len(entries), 1, f"{name}: a broken stream must not be retried")
                served = self.fake.served(entries[0]["seq"])
                self.assertLessEqual(len(question.audio), limit)
                self.assertTrue(served.startswith(question.audio), f"{name}: client audio is not a prefix")
                ivd.check_mp3_messages(question.frames, result.session_start["chunk_bytes"])

            records = {r["index"]: r for r in audio_records(daemon, result.session_id)}
            names = list(q)
            throttle_record = records[names.index("throttle")]
            self.assertEqual((throttle_record["outcome"], throttle_record["error_class"], throttle_record["requests"]),
                             ("error", "throttled", 3))
            once = records[names.index("throttle_once")]
            self.assertEqual((once["outcome"], once["requests"], once["billed_characters"]),
                             ("complete", 2, len(MARKER_RE.sub("", q["throttle_once"]))))
            daemon.stop_clean()
            log = daemon.log()
            self.assertIn("polly:SynthesizeSpeech", log, "the AccessDenied log line names the permission")
            self.assertIn("ThrottlingException", log)
            check_secrets_absent(self, self.fake, log)

    def test_bad_input_and_config_errors(self):
        bad_ssml = "<speak>Q & A</speak>"
        bank = write_json_bank(os.path.join(self.tmp, "bad.json"), [
            ("ssml", bad_ssml, True), ("plain", "A plain question with a lexicon.", False)])
        with self.daemon("lexicon", bank, lexicons="interviewTerms") as daemon:
            result = run(daemon.url)
            ssml, plain = result.questions
            self.check_failed(ssml, "tts_bad_input")
            self.assertEqual(len(requests_for(self.fake, bad_ssml)), 1)
            self.check_ok(plain, attempts=1)
            self.assertEqual(requests_for(self.fake, plain.text)[0]["body"]["LexiconNames"], ["interviewTerms"])
            daemon.stop_clean()
            self.assertIn("InvalidSsmlException", daemon.log())

        bank = ivd.write_bank(os.path.join(self.tmp, "config.txt"), ["Unknown lexicon question."])
        with self.daemon("nolexicon", bank, lexicons="missingLexicon") as daemon:
            question = run(daemon.url).questions[0]
            self.check_failed(question, "tts_config")
            self.assertEqual(requests_for(self.fake, question.text)[-1]["error"], "LexiconNotFoundException")
            daemon.stop_clean()

        bank = ivd.write_bank(os.path.join(self.tmp, "engine.txt"), ["Wrong engine question."])
        with self.daemon("engine", bank, backend="polly-standard", voice="Matthew") as daemon:
            question = run(daemon.url).questions[0]
            self.check_failed(question, "tts_config")
            entries = requests_for(self.fake, question.text)
            self.assertEqual([e["error"] for e in entries], ["ValidationException"])
            self.assertEqual(entries[0]["body"]["Engine"], "standard")
            daemon.stop_clean()
            self.assertRegex(daemon.log(), r"Matthew[^\n]*standard|standard[^\n]*Matthew")

    def test_one_attempt_and_refused_credentials(self):
        bank = ivd.write_bank(os.path.join(self.tmp, "once.txt"), ["Single attempt. [[fake:throttle-once]]"])
        with self.daemon("single", bank, max_attempts=1) as daemon:
            question = run(daemon.url).questions[0]
            self.check_failed(question, "tts_throttled")
            self.assertEqual(len(requests_for(self.fake, question.text)), 1)
            daemon.stop_clean()

        bank = ivd.write_bank(os.path.join(self.tmp, "badsecret.txt"), ["Wrong secret question."])
        tmp = tempfile.mkdtemp(dir=self.tmp)
        env = static_env(tmp, AWS_SECRET_ACCESS_KEY="not-the-right-secret-0123456789abcdef")
        with self.daemon("badsecret", bank, env=env) as daemon:
            question = run(daemon.url).questions[0]
            self.check_failed(question, "tts_credentials")
            entries = requests_for(self.fake, question.text)
            self.assertTrue(entries)
            self.assertTrue(all(e["error"] == "InvalidSignatureException" for e in entries))
            daemon.stop_clean()
            self.assertNotIn("not-the-right-secret", daemon.log())


    # A request whose 200 response stream broke is billed by AWS (x-amzn-RequestCharacters came
    # with the headers): the plugin must count it.
    def test_broken_stream_is_still_billed(self):
        text = "Billed although cut. [[fake:cut-after=3000]]"
        bank = ivd.write_bank(os.path.join(self.tmp, "billing.txt"), [text])
        with self.daemon("billing", bank) as daemon:
            result = run(daemon.url)
            self.check_failed(result.questions[0], "tts_unavailable")
            entry = requests_for(self.fake, text)[0]
            self.assertEqual(entry["status"], 200)
            record = audio_records(daemon, result.session_id)[0]
            daemon.stop_clean()
            self.assertEqual(record["billed_characters"], entry["billed"],
                             "Polly billed this request (x-amzn-RequestCharacters): the record must count it")

    def test_interruptions_and_shutdown_never_hang(self):
        questions = ["A slow question to skip. [[fake:pace=8000,block=1000]]",
                     "The question after the skip.",
                     "Polly never answers this one. [[fake:hang]]"]
        bank = ivd.write_bank(os.path.join(self.tmp, "hang.txt"), questions)
        with self.daemon("hang", bank) as daemon:
            async def session():
                ws = await ivd.connect(daemon.url)
                try:
                    await ivd.expect_type(ws, "session_start")
                    await ivd.expect_type(ws, "question_start", index=0)
                    first = await ivd.recv(ws)
                    self.assertIsInstance(first, bytes)
                    await ws.send('{"type":"skip"}')
                    frames, end, errors = await ivd.read_question_audio(ws)
                    self.assertEqual((end.get("interrupted"), errors), (True, []))
                    await ivd.expect_type(ws, "answer_saved", kind="skipped")
                    await ivd.expect_type(ws, "question_start", index=1)
                    frames, end, errors = await ivd.read_question_audio(ws)
                    self.assertEqual(errors, [])
                    self.assertEqual(b"".join(frames), served_audio(self.fake, requests_for(self.fake, questions[1])))
                    await ws.send('{"type":"answer","text":"ok"}')
                    await ivd.expect_type(ws, "answer_saved")
                    await ivd.expect_type(ws, "question_start", index=2)
                    # Wait until Polly holds the request, then stop the daemon under it.
                    for _ in range(600):
                        if requests_for(self.fake, questions[2]):
                            break
                        await asyncio.sleep(0.05)
                    self.assertTrue(requests_for(self.fake, questions[2]))
                    await asyncio.to_thread(daemon.stop_clean)
                    while True:  # the daemon says goodbye and closes; nothing may hang
                        try:
                            message = await ivd.recv(ws)
                        except websockets.ConnectionClosed:
                            break
                        if isinstance(message, dict) and message.get("type") == "error":
                            self.assertEqual(message["code"], "shutting_down")
                finally:
                    await ws.close()

            asyncio.run(session())
            paced = requests_for(self.fake, questions[0])
            self.assertEqual(len(paced), 1)
            self.assertFalse(paced[0]["complete"], "the skipped synthesis should stop its download")

    def test_client_leaving_during_a_hung_request(self):
        questions = ["Nobody will hear this. [[fake:hang]]"]
        bank = ivd.write_bank(os.path.join(self.tmp, "leave.txt"), questions)
        with self.daemon("leave", bank) as daemon:
            async def leave():
                ws = await ivd.connect(daemon.url)
                await ivd.expect_type(ws, "session_start")
                await ivd.expect_type(ws, "question_start")
                for _ in range(600):
                    if requests_for(self.fake, questions[0]):
                        break
                    await asyncio.sleep(0.05)
                await ws.close()
            asyncio.run(leave())
            daemon.wait_for_log(r"cancelled .*client gone|client disconnected")
            # The daemon still serves: a new session starts and gets its first question.
            async def again():
                ws = await ivd.connect(daemon.url)
                await ivd.expect_type(ws, "session_start")
                await ivd.expect_type(ws, "question_start")
                await ws.close()
            asyncio.run(again())
            daemon.stop_clean()


if __name__ == "__main__":
    require_plugin()
    unittest.main(verbosity=2)
