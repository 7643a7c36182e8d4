"""Every acknowledged answer survives kill -9 of the daemon, and the daemon restarts on the same records."""
import asyncio
import hashlib
import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402


class Durability(unittest.TestCase):
    def test_acknowledged_answers_survive_kill_9(self):
        audio_answer = os.urandom(150000)
        with ivd.Daemon() as daemon:
            async def scenario():
                ws = await ivd.connect(daemon.url)
                session_id = (await ivd.expect_type(ws, "session_start"))["session_id"]
                acks = []

                async def next_question(index):
                    await ivd.expect_type(ws, "question_start", index=index)
                    await ivd.read_question_audio(ws)

                await next_question(0)
                await ws.send(json.dumps({"type": "answer", "text": "First answer, \u00fcml\u00e4uts."}))
                acks.append(await ivd.expect_type(ws, "answer_saved", index=0, kind="text"))
                await next_question(1)
                await ws.send(json.dumps({"type": "answer_audio_start", "mime_type": "audio/webm"}))
                for pos in range(0, len(audio_answer), 10000):
                    await ws.send(audio_answer[pos:pos + 10000])
                await ws.send(json.dumps({"type": "answer_audio_end"}))
                acks.append(await ivd.expect_type(ws, "answer_saved", index=1, kind="audio"))
                await next_question(2)
                await ws.send(json.dumps({"type": "skip"}))
                acks.append(await ivd.expect_type(ws, "answer_saved", index=2, kind="skipped"))
                await next_question(3)
                await ws.send(json.dumps({"type": "answer", "text": "Fourth answer."}))
                acks.append(await ivd.expect_type(ws, "answer_saved", index=3, kind="text"))
                await next_question(4)
                # An upload in progress (never acknowledged) when the daemon dies.
                await ws.send(json.dumps({"type": "answer_audio_start", "mime_type": "audio/ogg"}))
                await ws.send(os.urandom(20000))
                await ws.ping()
                daemon.kill()  # SIGKILL: no chance to flush anything
                self.assertEqual(await ivd.expect_close(ws), 1006)
                return session_id, acks

            session_id, acks = asyncio.run(scenario())
            self.assertEqual(daemon.exit_code, -signal.SIGKILL)
            records = daemon.records(session_id)  # every complete line parses
            answers = {r["index"]: r for r in records if r["type"] in ("answer", "skip")}
            self.assertEqual(sorted(answers), [ack["index"] for ack in acks])
            self.assertEqual(answers[0]["text"], "First answer, \u00fcml\u00e4uts.")
            self.assertEqual(answers[0]["bytes"], acks[0]["bytes"])
            self.assertEqual(answers[1]["kind"], "audio")
            self.assertEqual(answers[1]["bytes"], len(audio_answer))
            self.assertEqual(answers[1]["sha256"], hashlib.sha256(audio_answer).hexdigest())
            with open(os.path.join(daemon.session_dir(session_id), answers[1]["file"]), "rb") as f:
                self.assertEqual(f.read(), audio_answer)
            self.assertEqual(answers[2]["type"], "skip")
            self.assertEqual(answers[3]["text"], "Fourth answer.")
            self.assertNotIn(4, answers)

            # The daemon starts again on the same records directory and serves.
            daemon.start()
            result = asyncio.run(ivd.run_interview(daemon.url))
            self.assertEqual(result.end["reason"], "completed")
            self.assertNotEqual(result.session_id, session_id)
            daemon.stop_clean()
            # The old session's records are untouched by the restart.
            self.assertEqual(daemon.records(session_id), records)


if __name__ == "__main__":
    unittest.main()
