"""SIGTERM with open sessions: each client gets error shutting_down and close 1001, the daemon exits 0, records are intact."""
import asyncio
import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402


async def expect_shutdown(ws):
    """Read up to error shutting_down (only messages already in flight may come first), then
    the close; returns the close code."""
    while True:
        message = await ivd.recv(ws)
        if isinstance(message, bytes):
            continue
        if message["type"] == "error":
            assert message["code"] == "shutting_down", message
            assert message.get("message"), message
            break
        assert message["type"] in ("question_end", "question_start", "answer_saved"), message
    return await ivd.expect_close(ws)


class Sigterm(unittest.TestCase):
    def test_sigterm_with_open_sessions(self):
        # Real-time audio: sessions are caught mid-question.
        with ivd.Daemon({"tts.mock": {"pace": "realtime"}}) as daemon:
            async def scenario():
                # A: answered question 0 (acknowledged), listening to question 1.
                a = await ivd.connect(daemon.url)
                a_id = (await ivd.expect_type(a, "session_start"))["session_id"]
                await ivd.expect_type(a, "question_start", index=0)
                await a.send(json.dumps({"type": "answer", "text": "Acknowledged before the stop."}))
                _, skipped, _ = await ivd.skip_until(a, "answer_saved")
                self.assertEqual([m["type"] for m in skipped], ["question_end"])
                await ivd.expect_type(a, "question_start", index=1)
                # B: in the middle of an audio answer.
                b = await ivd.connect(daemon.url)
                b_id = (await ivd.expect_type(b, "session_start"))["session_id"]
                await ivd.expect_type(b, "question_start", index=0)
                await b.send(json.dumps({"type": "answer_audio_start", "mime_type": "audio/webm"}))
                await b.send(os.urandom(30000))
                # C: connected, listening to its first question.
                c = await ivd.connect(daemon.url)
                c_id = (await ivd.expect_type(c, "session_start"))["session_id"]
                await ivd.expect_type(c, "question_start", index=0)
                await daemon.await_log(r"\(3 open\)")

                daemon.proc.send_signal(signal.SIGTERM)
                codes = await asyncio.gather(expect_shutdown(a), expect_shutdown(b), expect_shutdown(c))
                return (a_id, b_id, c_id), codes

            ids, codes = asyncio.run(scenario())
            self.assertEqual(codes, [1001, 1001, 1001])
            self.assertEqual(daemon.stop_clean(), 0)  # it was already stopping: just wait
            log = daemon.log()
            self.assertIn("stopping: closing 3 open sessions", log)
            self.assertNotIn("exiting anyway", log, "sessions should close within the grace period")
            a_records = daemon.records(ids[0])
            answers = [r for r in a_records if r["type"] == "answer"]
            self.assertEqual([(r["index"], r["text"]) for r in answers], [(0, "Acknowledged before the stop.")])
            for session_id in ids:
                records = daemon.records(session_id)
                self.assertEqual(records[-1]["type"], "session_end", session_id)
                self.assertEqual(records[-1]["reason"], "shutdown", session_id)
            b_dir = daemon.session_dir(ids[1])
            self.assertEqual([r for r in daemon.records(ids[1]) if r["type"] == "answer"], [])
            self.assertEqual([n for n in os.listdir(b_dir) if n.startswith("answer-")], [],
                             "an unfinished upload must not be left on disk")

    def test_sigint_when_idle(self):
        with ivd.Daemon() as daemon:
            self.assertEqual(asyncio.run(ivd.run_interview(daemon.url)).end["reason"], "completed")
            self.assertEqual(daemon.stop(sig=signal.SIGINT), 0)
            self.assertIn("stopped", daemon.log())
            self.assertIsNone(ivd.sanitizer_report(daemon.log()))


if __name__ == "__main__":
    unittest.main()
