"""A client that drops its TCP connection mid-audio: its synthesis is cancelled, everyone else carries on, and the daemon still exits cleanly."""
import asyncio
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402


class ClientVanishes(unittest.TestCase):
    def test_client_vanishes_mid_audio(self):
        sample = ivd.read_bank(ivd.data_path("questions-en.txt"))
        # The longest sample recording first (several seconds in real time), then a short one.
        long_text = max(sample, key=lambda text: len(ivd.expected_mock_audio(text)))
        short_text = min(sample, key=lambda text: len(ivd.expected_mock_audio(text)))
        daemon = ivd.Daemon({"tts.mock": {"pace": "realtime"}})
        bank = ivd.write_bank(os.path.join(daemon.tmp_dir, "bank.txt"), [long_text, short_text])
        daemon.sections["questions.file"]["path"] = bank
        with daemon:

            async def vanish():
                ws = await ivd.connect(daemon.url)
                session_id = (await ivd.expect_type(ws, "session_start"))["session_id"]
                await ivd.expect_type(ws, "question_start", index=0)
                first = await ivd.recv(ws)
                assert isinstance(first, bytes), first
                ws.transport.abort()  # drop the TCP connection: no close frame
                return session_id

            async def scenario():
                # Another session is already running when the client vanishes ...
                other = asyncio.ensure_future(ivd.run_interview(daemon.url, timeout=60))
                gone_id = await vanish()
                await daemon.await_log(rf"session {gone_id}: synthesis of question 0 cancelled "
                                       r"after [0-9.]+ ms \(client gone\)")
                # ... and a new one starts after it.
                new = await ivd.run_interview(daemon.url, timeout=60)
                return gone_id, await other, new

            gone_id, other, new = asyncio.run(scenario())
            for result in (other, new):
                self.assertEqual(result.end["reason"], "completed")
                self.assertEqual(result.close_code, 1000)
                self.assertEqual([q.text for q in result.questions], [long_text, short_text])
                for question in result.questions:
                    ivd.check_mock_audio(question, 1024)
            records = daemon.closed_records(gone_id)
            audio = [r for r in records if r["type"] == "audio"]
            self.assertEqual([(r["index"], r["outcome"]) for r in audio], [(0, "cancelled")])
            self.assertEqual(records[-1]["reason"], "disconnected")
            # Under ASan this also checks that nothing leaked (LeakSanitizer runs at exit).
            daemon.stop_clean()
            self.assertNotIn("LeakSanitizer", daemon.log())

    def test_client_vanishes_mid_upload(self):
        with ivd.Daemon() as daemon:
            async def scenario():
                ws = await ivd.connect(daemon.url)
                session_id = (await ivd.expect_type(ws, "session_start"))["session_id"]
                await ivd.expect_type(ws, "question_start", index=0)
                await ivd.read_question_audio(ws)
                await ws.send(json.dumps({"type": "answer_audio_start", "mime_type": "audio/webm"}))
                await ws.send(os.urandom(50000))
                ws.transport.abort()
                return session_id

            session_id = asyncio.run(scenario())
            records = daemon.closed_records(session_id)
            self.assertEqual([r for r in records if r["type"] == "answer"], [])
            self.assertEqual(daemon.wait_no_answer_files(session_id), [],
                             "an unfinished upload must not stay on disk")
            result = asyncio.run(ivd.run_interview(daemon.url))
            self.assertEqual(result.end["reason"], "completed")
            daemon.stop_clean()


if __name__ == "__main__":
    unittest.main()
