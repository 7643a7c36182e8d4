"""Spoken answers: answer_audio_start, binary frames, answer_audio_end; stored byte for byte; too large closes 1009."""
import asyncio
import hashlib
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402

MAX_AUDIO = 3 * 1024 * 1024


async def open_first_question(url):
    ws = await ivd.connect(url)
    start = await ivd.expect_type(ws, "session_start")
    await ivd.expect_type(ws, "question_start", index=0)
    await ivd.read_question_audio(ws)
    return ws, start["session_id"]


class AudioAnswer(ivd.SharedDaemonTest):
    # A small session buffer, so a large upload goes through the daemon's receive
    # back-pressure (it stops reading while its disk writer catches up).
    daemon_sections = {"limits": {"max_answer_audio_bytes": str(MAX_AUDIO), "session_buffer_bytes": "16384"}}

    def test_audio_answers_are_stored_byte_for_byte(self):
        small = os.urandom(5000)
        # Over the session buffer many times; frames of varied sizes.
        large = os.urandom(MAX_AUDIO - 1)

        async def send_audio(ws, data, mime_type, frame_sizes):
            start = {"type": "answer_audio_start"}
            if mime_type:
                start["mime_type"] = mime_type
            await ws.send(json.dumps(start))
            pos, i = 0, 0
            while pos < len(data):
                size = frame_sizes[i % len(frame_sizes)]
                await ws.send(data[pos:pos + size])
                pos += size
                i += 1
            await ws.send(json.dumps({"type": "answer_audio_end"}))

        async def scenario():
            ws, session_id = await open_first_question(self.daemon.url)
            await send_audio(ws, small, "audio/webm;codecs=opus", [1000, 3000, 1])
            saved = await ivd.expect_type(ws, "answer_saved", index=0, id="q1", kind="audio")
            self.assertEqual(saved["bytes"], len(small))
            await ivd.expect_type(ws, "question_start", index=1)
            await ivd.read_question_audio(ws)
            # Between start and end, other messages are refused and the upload goes on.
            await ws.send(json.dumps({"type": "answer_audio_start", "mime_type": "audio/ogg"}))
            await ws.send(large[:100000])
            await ws.send(json.dumps({"type": "answer", "text": "meanwhile"}))
            error = await ivd.expect_type(ws, "error", code="answer_in_progress")
            self.assertEqual(error.get("index"), 1)
            await ws.send(json.dumps({"type": "skip"}))
            await ivd.expect_type(ws, "error", code="answer_in_progress")
            for pos in range(100000, len(large), 65536):
                await ws.send(large[pos:pos + 65536])
            await ws.send(json.dumps({"type": "answer_audio_end"}))
            saved = await ivd.expect_type(ws, "answer_saved", index=1, kind="audio", timeout=60)
            self.assertEqual(saved["bytes"], len(large))
            await ivd.expect_type(ws, "question_start", index=2)
            await ivd.read_question_audio(ws)
            # No mime_type: stored anyway.
            await send_audio(ws, b"\x00\x01" * 10, None, [7])
            saved = await ivd.expect_type(ws, "answer_saved", index=2, kind="audio")
            self.assertEqual(saved["bytes"], 20)
            await ws.send(json.dumps({"type": "end"}))
            end = await ivd.recv_json(ws, skip_binary=True)
            while end["type"] != "interview_end":
                end = await ivd.recv_json(ws, skip_binary=True)
            self.assertEqual((end["answered"], end["skipped"]), (3, 0))
            self.assertEqual(await ivd.expect_close(ws), 1000)
            return session_id

        session_id = asyncio.run(scenario())
        records = self.daemon.closed_records(session_id)
        answers = [r for r in records if r["type"] == "answer"]
        self.assertEqual([r["kind"] for r in answers], ["audio"] * 3)
        sent = [small, large, b"\x00\x01" * 10]
        for record, data in zip(answers, sent):
            path = os.path.join(self.daemon.session_dir(session_id), record["file"])
            with open(path, "rb") as f:
                stored = f.read()
            self.assertEqual(stored, data, f"{record['file']} differs from the bytes sent")
            self.assertEqual(record["bytes"], len(data))
            self.assertEqual(record["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(answers[0]["mime_type"], "audio/webm;codecs=opus")
        self.assertTrue(answers[0]["file"].endswith(".webm"), answers[0]["file"])
        self.assertTrue(answers[1]["file"].endswith(".ogg"), answers[1]["file"])
        self.assertEqual(len({r["file"] for r in answers}), 3, "each answer has its own file")

    def test_too_large_audio_answer_closes_1009(self):
        async def scenario():
            ws, session_id = await open_first_question(self.daemon.url)
            await ws.send(json.dumps({"type": "answer_audio_start", "mime_type": "audio/webm"}))
            data = os.urandom(MAX_AUDIO + 1)
            try:
                for pos in range(0, len(data), 65536):
                    await ws.send(data[pos:pos + 65536])
            except Exception:  # the server may close while we are still sending
                pass
            error = await ivd.expect_type(ws, "error", code="answer_too_large")
            self.assertIn(str(MAX_AUDIO), error["message"])
            self.assertEqual(await ivd.expect_close(ws), 1009)
            return session_id

        session_id = asyncio.run(scenario())
        records = self.daemon.closed_records(session_id)
        self.assertEqual([r for r in records if r["type"] == "answer"], [],
                         "a refused audio answer must not be recorded as an answer")
        self.assertEqual(records[-1]["reason"], "answer_too_large")
        self.assertEqual(self.daemon.wait_no_answer_files(session_id), [],
                         "the partial upload of a refused answer must be removed")


if __name__ == "__main__":
    unittest.main()
