"""A complete interview with the default sample bank and the mock voice, checked message by message."""
import asyncio
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402


class CompleteInterview(unittest.TestCase):
    def test_complete_interview(self):
        bank = ivd.read_bank(ivd.data_path("questions-en.txt"))
        self.assertGreaterEqual(len(bank), 3, "the sample bank should have several questions")
        with ivd.Daemon({"server": {"audio_chunk_bytes": "1024"}}) as daemon:
            answers = {}

            def answer(question):
                text = f"My answer to question {question.start['index']}: \u00e9t\u00e9 \U0001F600."
                answers[question.start["index"]] = text
                return {"type": "answer", "text": text, "index": question.start["index"]}

            result = asyncio.run(ivd.run_interview(daemon.url, answer))

            start = result.session_start
            self.assertEqual(start["protocol"], 1)
            self.assertRegex(start["session_id"], r"^[0-9a-f]{32}$")
            self.assertEqual(start["backend"], "mock")
            self.assertEqual(start["voice"], "mock")
            self.assertEqual(start["language"], "en-US")
            self.assertEqual(start["audio"], {"mime_type": "audio/mpeg", "sample_rate": 24000})
            self.assertEqual(start["chunk_bytes"], 1024)
            self.assertEqual(start["question_count"], len(bank))

            self.assertEqual([q.text for q in result.questions], bank)
            for index, question in enumerate(result.questions):
                q = question.start
                self.assertEqual((q["index"], q["id"], q["count"]), (index, f"q{index + 1}", len(bank)))
                self.assertNotIn("repeat", q)
                self.assertTrue(question.frames, f"question {index} has no audio")
                self.assertEqual(question.errors, [])
                for message in question.frames:
                    self.assertLessEqual(len(message), 1024)
                # Each message is whole frames; together they are the mock's file minus ID3.
                ivd.check_mock_audio(question, 1024)
                self.assertEqual(question.end["index"], index)
                self.assertEqual(question.end["id"], q["id"])
                self.assertNotIn("complete", question.end)
                self.assertNotIn("interrupted", question.end)
                saved = question.saved
                self.assertIsNotNone(saved, f"no answer_saved for question {index}")
                self.assertEqual((saved["index"], saved["id"], saved["kind"]), (index, q["id"], "text"))
                self.assertEqual(saved["bytes"], len(answers[index].encode("utf-8")))

            end = result.end
            self.assertEqual(end["reason"], "completed")
            self.assertEqual(end["session_id"], start["session_id"])
            self.assertEqual((end["answered"], end["skipped"]), (len(bank), 0))
            self.assertEqual(result.close_code, 1000)

            # The records on disk.
            session_dir = daemon.session_dir(result.session_id)
            self.assertEqual(os.stat(session_dir).st_mode & 0o777, 0o700)
            records = daemon.records(result.session_id)
            for record in records:
                self.assertRegex(record["t"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertEqual(records[0]["type"], "session_start")
            self.assertEqual(records[0]["session_id"], result.session_id)
            questions = [r for r in records if r["type"] == "question"]
            self.assertEqual([(r["index"], r["id"], r["text"]) for r in questions],
                             [(i, f"q{i + 1}", text) for i, text in enumerate(bank)])
            stored = [r for r in records if r["type"] == "answer"]
            self.assertEqual([(r["index"], r["kind"], r["text"]) for r in stored],
                             [(i, "text", answers[i]) for i in range(len(bank))])
            audio = [r for r in records if r["type"] == "audio"]
            self.assertEqual([(r["index"], r["outcome"], r["bytes"]) for r in audio],
                             [(q.start["index"], "complete", len(q.audio)) for q in result.questions])

            self.assertEqual(daemon.stop_clean(), 0)
            # After the session closed, its record ends with session_end.
            records = daemon.records(result.session_id)
            self.assertEqual(records[-1]["type"], "session_end")
            self.assertEqual(records[-1]["reason"], "completed")
            self.assertEqual(records[-1]["answered"], len(bank))
            # Query strings and answers are not logged.
            self.assertNotIn("My answer", daemon.log())

    def test_korean_json_bank(self):
        """The Korean sample bank (JSON, with ids): UTF-8 text intact, each with its own recording."""
        path = ivd.data_path("questions-ko.json")
        with open(path, encoding="utf-8") as f:
            bank = json.load(f)["questions"]
        with ivd.Daemon({"questions.file": {"path": path}, "tts.mock": {"language": "ko-KR"}}) as daemon:
            result = asyncio.run(ivd.run_interview(
                daemon.url, lambda q: {"type": "answer", "text": "\uc800\ub294 \uac1c\ubc1c\uc790\uc785\ub2c8\ub2e4."}))
            self.assertEqual(result.session_start["language"], "ko-KR")
            self.assertEqual(result.session_start["question_count"], len(bank))
            self.assertEqual([(q.start["id"], q.text) for q in result.questions],
                             [(entry["id"], entry["text"]) for entry in bank])
            for question in result.questions:
                # A recording made for this very text, not the default one.
                self.assertNotEqual(os.path.basename(ivd.mock_audio_file(question.text)), "default.mp3")
                ivd.check_mock_audio(question, 1024)
                self.assertEqual(question.saved["id"], question.start["id"])
            daemon.stop_clean()
            stored = [r["text"] for r in daemon.records(result.session_id) if r["type"] == "answer"]
            self.assertEqual(stored, ["\uc800\ub294 \uac1c\ubc1c\uc790\uc785\ub2c8\ub2e4."] * len(bank))

    def test_id3_tags_junk_and_frames_larger_than_a_chunk(self):
        """ID3 tags and bytes between frames are dropped; a frame over chunk_bytes goes alone."""
        # MPEG-1 Layer III, 320 kbit/s, 44.1 kHz: 1044-byte frames (payload irrelevant here).
        big_frame = bytes([0xFF, 0xFB, 0xE0, 0x00]) + bytes(1040)
        self.assertEqual(ivd.mp3_frame_length(big_frame), 1044)
        # MPEG-2 Layer III, 48 kbit/s, 24 kHz like the samples: 144 bytes.
        small_frame = bytes([0xFF, 0xF3, 0x64, 0xC4]) + bytes(140)
        self.assertEqual(ivd.mp3_frame_length(small_frame), 144)
        id3v2 = b"ID3\x03\x00\x00\x00\x00\x01\x00" + b"T" * 128  # a 128-byte tag body
        id3v1 = b"TAG" + b"\x00" * 125
        recording = (id3v2 + big_frame * 3 + b"\x00junk\x00" + small_frame * 5 + big_frame
                     + small_frame + id3v1)
        expected = big_frame * 3 + small_frame * 5 + big_frame + small_frame

        daemon = ivd.Daemon({"server": {"audio_chunk_bytes": "256"},
                             "tts.mock": {"manifest": "none.json", "block_bytes": "100"}})
        audio_dir = os.path.join(daemon.tmp_dir, "audio")
        os.mkdir(audio_dir)
        with open(os.path.join(audio_dir, "default.mp3"), "wb") as f:
            f.write(recording)
        daemon.sections["tts.mock"]["audio_dir"] = audio_dir
        daemon.sections["questions.file"]["path"] = ivd.write_bank(
            os.path.join(daemon.tmp_dir, "bank.txt"), ["A question without a recording?"])
        with daemon:
            result = asyncio.run(ivd.run_interview(daemon.url))
            self.assertEqual(result.session_start["chunk_bytes"], 256)
            question = result.questions[0]
            self.assertEqual(question.audio, expected)
            self.assertEqual(question.end["audio_bytes"], len(expected))
            ivd.check_mp3_messages(question.frames, 256)
            # Over-sized frames alone; 144-byte frames one per message (two would exceed 256).
            self.assertEqual([len(m) for m in question.frames], [1044] * 3 + [144] * 5 + [1044, 144])
            daemon.stop_clean()

    def test_session_params_recorded_not_logged(self):
        with ivd.Daemon() as daemon:
            async def scenario():
                ws = await ivd.connect(daemon.url + "?lang=en&role=secret-role-xyz")
                start = await ivd.expect_type(ws, "session_start")
                await ivd.expect_type(ws, "question_start", index=0)
                await ws.send(json.dumps({"type": "end"}))
                message = await ivd.recv_json(ws, skip_binary=True)
                while message["type"] != "interview_end":
                    message = await ivd.recv_json(ws, skip_binary=True)
                self.assertEqual(message["reason"], "ended_by_client")
                self.assertEqual(await ivd.expect_close(ws), 1000)
                return start["session_id"]

            session_id = asyncio.run(scenario())
            daemon.stop_clean()
            records = daemon.records(session_id)
            self.assertEqual(records[0]["params"], {"lang": "en", "role": "secret-role-xyz"})
            self.assertNotIn("secret-role-xyz", daemon.log())
            self.assertTrue(re.search(rf"session {session_id}: closed", daemon.log()))


if __name__ == "__main__":
    unittest.main()
