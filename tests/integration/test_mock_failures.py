"""Speech failures injected by the mock: error tts_CLASS, question_end complete:false, and the session goes on."""
import asyncio
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402


def daemon_with_bank(questions, mock_options=None):
    daemon = ivd.Daemon({"tts.mock": mock_options or {}})
    daemon.sections["questions.file"]["path"] = ivd.write_bank(
        os.path.join(daemon.tmp_dir, "bank.txt"), questions)
    return daemon


class MockFailures(unittest.TestCase):
    def test_failure_markers(self):
        good = "Do you have any questions for us?"
        before = "[[mock-fail:throttled]] Tell me about yourself."
        after = "What would you change? [[mock-fail:unavailable:after=3000]]"
        with daemon_with_bank([before, good, after]) as daemon:
            result = asyncio.run(ivd.run_interview(daemon.url))
            self.assertEqual(result.end["reason"], "completed")
            self.assertEqual(result.end["answered"], 3)
            self.assertEqual(result.close_code, 1000)
            q0, q1, q2 = result.questions

            # Failure before any audio: error, then question_end complete:false, no audio.
            self.assertEqual(len(q0.errors), 1, q0.errors)
            self.assertEqual(q0.errors[0]["code"], "tts_throttled")
            self.assertEqual(q0.errors[0].get("index"), 0)
            self.assertTrue(q0.errors[0]["message"])
            self.assertIs(q0.end.get("complete"), False, q0.end)
            self.assertEqual(q0.end["audio_bytes"], 0)
            self.assertEqual(q0.frames, [])
            self.assertEqual(q0.saved["kind"], "text", "a failed question can still be answered")

            # The next question is unaffected.
            self.assertEqual(q1.errors, [])
            ivd.check_mock_audio(q1, 1024)

            # Failure after some audio: whole frames of the recording's start, then the error.
            self.assertEqual([e["code"] for e in q2.errors], ["tts_unavailable"])
            self.assertIs(q2.end.get("complete"), False, q2.end)
            audio = q2.audio
            self.assertGreater(len(audio), 0)
            self.assertLessEqual(len(audio), 3000)
            ivd.check_mp3_messages(q2.frames, 1024)
            self.assertEqual(audio, ivd.expected_mock_audio(after)[:len(audio)])
            self.assertEqual(q2.end["audio_bytes"], len(audio))

            daemon.stop_clean()
            records = daemon.records(result.session_id)
            outcomes = [(r["index"], r["outcome"], r.get("error_class")) for r in records if r["type"] == "audio"]
            self.assertEqual(outcomes, [(0, "error", "throttled"), (1, "complete", None),
                                        (2, "error", "unavailable")])
            self.assertRegex(daemon.log(), rf"session {result.session_id}: question 0: mock failed \(throttled\)")

    def test_repeat_after_a_failure(self):
        with daemon_with_bank(["[[mock-fail:bad_input]] Question?"]) as daemon:
            async def scenario():
                ws = await ivd.connect(daemon.url)
                await ivd.expect_type(ws, "session_start")
                for repeat in (False, True):
                    start = await ivd.expect_type(ws, "question_start", index=0)
                    self.assertEqual(start.get("repeat", False), repeat)
                    frames, end, errors = await ivd.read_question_audio(ws)
                    self.assertEqual([e["code"] for e in errors], ["tts_bad_input"])
                    self.assertIs(end.get("complete"), False)
                    if not repeat:
                        await ws.send(json.dumps({"type": "repeat"}))
                await ws.send(json.dumps({"type": "skip"}))
                await ivd.expect_type(ws, "answer_saved", kind="skipped")
                await ivd.expect_type(ws, "interview_end", reason="completed")
                return await ivd.expect_close(ws)

            self.assertEqual(asyncio.run(scenario()), 1000)
            daemon.stop_clean()

    def test_fail_every(self):
        bank = ivd.read_bank(ivd.data_path("questions-en.txt"))
        # The 1st, 3rd, 5th ... synthesis of the daemon fails with the configured class.
        with ivd.Daemon({"tts.mock": {"fail_every": "2", "fail_class": "credentials",
                                      "fail_after_bytes": "2000"}}) as daemon:
            result = asyncio.run(ivd.run_interview(daemon.url))
            self.assertEqual(result.end["reason"], "completed")
            for i, question in enumerate(result.questions):
                if i % 2 == 0:
                    self.assertEqual([e["code"] for e in question.errors], ["tts_credentials"], i)
                    self.assertIs(question.end.get("complete"), False)
                    self.assertGreater(len(question.audio), 0)
                    self.assertLessEqual(len(question.audio), 2000)
                    self.assertEqual(question.audio, ivd.expected_mock_audio(bank[i])[:len(question.audio)])
                else:
                    self.assertEqual(question.errors, [], i)
                    ivd.check_mock_audio(question, 1024)
            daemon.stop_clean()

    def test_first_byte_delay(self):
        delay_s = 2.5  # also the window in which an answer interrupts before any audio
        with ivd.Daemon({"tts.mock": {"first_byte_delay_ms": str(int(delay_s * 1000))}}) as daemon:
            bank = ivd.read_bank(ivd.data_path("questions-en.txt"))

            async def scenario():
                ws = await ivd.connect(daemon.url)
                await ivd.expect_type(ws, "session_start")
                await ivd.expect_type(ws, "question_start", index=0)
                frames, end, _ = await ivd.read_question_audio(ws)
                self.assertEqual(b"".join(frames), ivd.expected_mock_audio(bank[0]))
                # Question 1's synthesis cannot start before the server has our answer to
                # question 0: from sending it to question 1's first audio takes at least the delay.
                sent = time.monotonic()
                await ws.send(json.dumps({"type": "answer", "text": "a"}))
                await ivd.expect_type(ws, "answer_saved", index=0)
                await ivd.expect_type(ws, "question_start", index=1)
                first = await ivd.recv(ws)
                waited = time.monotonic() - sent
                self.assertIsInstance(first, bytes)
                frames, end, _ = await ivd.read_question_audio(ws)
                self.assertNotIn("complete", end)
                self.assertEqual(first + b"".join(frames), ivd.expected_mock_audio(bank[1]))
                await ws.send(json.dumps({"type": "answer", "text": "b"}))
                await ivd.expect_type(ws, "answer_saved", index=1)
                # An answer during the delay interrupts the question before any audio.
                await ivd.expect_type(ws, "question_start", index=2)
                await ws.send(json.dumps({"type": "answer", "text": "c"}))
                end = await ivd.expect_type(ws, "question_end", index=2, audio_bytes=0)
                self.assertIs(end.get("interrupted"), True, end)
                await ivd.expect_type(ws, "answer_saved", index=2)
                await ws.close()
                return waited

            waited = asyncio.run(scenario())
            # A lower bound only: a slow machine can only make it longer.
            self.assertGreaterEqual(waited, delay_s, "the first audio came before the delay")
            daemon.stop_clean()


if __name__ == "__main__":
    unittest.main()
