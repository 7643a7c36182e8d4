"""skip, repeat, interrupting the audio with an answer/repeat/skip, and end."""
import asyncio
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402


async def read_until(ws, type_, frames=None):
    """Messages up to the first of `type_`; binary frames are collected into `frames`."""
    while True:
        message = await ivd.recv(ws)
        if isinstance(message, bytes):
            if frames is not None:
                frames.append(message)
            continue
        if message["type"] == type_:
            return message
        raise AssertionError(f"expected {type_}, got {message}")


class SkipRepeatEnd(unittest.TestCase):
    """Audio as fast as the client reads: the question's audio is complete before the client acts."""

    def test_repeat_skip_end(self):
        bank = ivd.read_bank(ivd.data_path("questions-en.txt"))
        with ivd.Daemon() as daemon:
            async def scenario():
                ws = await ivd.connect(daemon.url)
                session_id = (await ivd.expect_type(ws, "session_start"))["session_id"]
                first = await ivd.expect_type(ws, "question_start", index=0, id="q1")
                frames, end, _ = await ivd.read_question_audio(ws)
                self.assertNotIn("interrupted", end)
                # repeat: the same question, same index, repeat:true, the same audio again.
                await ws.send(json.dumps({"type": "repeat", "index": 0}))
                again = await ivd.expect_type(ws, "question_start", index=0, id="q1", repeat=True)
                self.assertEqual(again["text"], first["text"])
                frames2, end2, errors = await ivd.read_question_audio(ws)
                self.assertEqual(errors, [])
                self.assertNotIn("interrupted", end2)
                self.assertEqual(b"".join(frames2), b"".join(frames))
                self.assertEqual(b"".join(frames2), ivd.expected_mock_audio(bank[0]))
                self.assertEqual(end2["audio_bytes"], end["audio_bytes"])
                # skip: recorded as skipped.
                await ws.send(json.dumps({"type": "skip"}))
                saved = await ivd.expect_type(ws, "answer_saved", index=0, id="q1", kind="skipped")
                self.assertEqual(saved["bytes"], 0)
                await ivd.expect_type(ws, "question_start", index=1, id="q2")
                await ivd.read_question_audio(ws)
                await ws.send(json.dumps({"type": "answer", "text": "Answer two."}))
                await ivd.expect_type(ws, "answer_saved", index=1, kind="text")
                await ivd.expect_type(ws, "question_start", index=2)
                await ivd.read_question_audio(ws)
                await ws.send(json.dumps({"type": "end"}))
                end = await ivd.expect_type(ws, "interview_end", reason="ended_by_client",
                                            session_id=session_id)
                self.assertEqual((end["answered"], end["skipped"]), (1, 1))
                self.assertEqual(await ivd.expect_close(ws), 1000)
                return session_id

            session_id = asyncio.run(scenario())
            records = daemon.closed_records(session_id)
            kinds = [(r["type"], r["index"]) for r in records if r["type"] in ("skip", "answer")]
            self.assertEqual(kinds, [("skip", 0), ("answer", 1)])
            questions = [(r["index"], r["repeat"]) for r in records if r["type"] == "question"]
            self.assertEqual(questions, [(0, False), (0, True), (1, False), (2, False)])
            self.assertEqual(records[-1]["type"], "session_end")
            self.assertEqual(records[-1]["reason"], "ended_by_client")
            daemon.stop_clean()


class Interrupt(unittest.TestCase):
    """Audio paced in real time: the client acts while the audio is still streaming."""

    def test_interrupt_with_answer_repeat_and_skip(self):
        bank = ivd.read_bank(ivd.data_path("questions-en.txt"))
        with ivd.Daemon({"tts.mock": {"pace": "realtime"}}) as daemon:
            async def scenario():
                ws = await ivd.connect(daemon.url)
                session_id = (await ivd.expect_type(ws, "session_start"))["session_id"]
                # An answer while the audio streams stops it: question_end interrupted:true.
                await ivd.expect_type(ws, "question_start", index=0)
                await ws.send(json.dumps({"type": "answer", "text": "I interrupt."}))
                frames = []
                end = await read_until(ws, "question_end", frames)
                self.assertEqual(end["index"], 0)
                self.assertIs(end.get("interrupted"), True, end)
                audio = b"".join(frames)
                expected = ivd.expected_mock_audio(bank[0])
                self.assertLess(len(audio), len(expected), "the audio should have been cut short")
                self.assertEqual(audio, expected[:len(audio)])
                ivd.check_mp3_messages(frames, 1024)
                self.assertEqual(end["audio_bytes"], len(audio),
                                 "question_end audio_bytes must count the bytes the client got")
                await ivd.expect_type(ws, "answer_saved", index=0, kind="text")
                # repeat while streaming: interrupted, then the question again with repeat:true.
                await ivd.expect_type(ws, "question_start", index=1)
                await ws.send(json.dumps({"type": "repeat"}))
                end = await read_until(ws, "question_end")
                self.assertIs(end.get("interrupted"), True, end)
                again = await read_until(ws, "question_start")
                self.assertEqual((again["index"], again.get("repeat")), (1, True), again)
                # skip while the repeated audio streams.
                await ws.send(json.dumps({"type": "skip"}))
                end = await read_until(ws, "question_end")
                self.assertEqual(end["index"], 1)
                self.assertIs(end.get("interrupted"), True, end)
                await ivd.expect_type(ws, "answer_saved", index=1, kind="skipped")
                # end while streaming.
                await ivd.expect_type(ws, "question_start", index=2)
                await ws.send(json.dumps({"type": "end"}))
                end = await read_until(ws, "interview_end")
                self.assertEqual(end["reason"], "ended_by_client")
                self.assertEqual((end["answered"], end["skipped"]), (1, 1))
                self.assertEqual(await ivd.expect_close(ws), 1000)
                return session_id

            session_id = asyncio.run(scenario())
            records = daemon.closed_records(session_id)
            outcomes = [(r["index"], r["outcome"]) for r in records if r["type"] == "audio"]
            self.assertEqual(outcomes, [(0, "cancelled"), (1, "cancelled"), (1, "cancelled"),
                                        (2, "cancelled")])
            daemon.wait_for_log(rf"session {session_id}: synthesis of question 0 cancelled after "
                                r"[0-9.]+ ms \(interrupted by the client\)")
            daemon.stop_clean()


if __name__ == "__main__":
    unittest.main()
