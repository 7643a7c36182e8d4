"""Malformed client messages: errors that keep the session going, and the ones that close it (1009, 1007)."""
import asyncio
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402

OP_CONT, OP_TEXT, OP_BINARY = 0, 1, 2
MAX_MESSAGE_BYTES = 2048


async def open_first_question(url):
    """Connect and read up to the end of question 0's audio."""
    ws = await ivd.connect(url)
    await ivd.expect_type(ws, "session_start")
    await ivd.expect_type(ws, "question_start", index=0)
    _, end, errors = await ivd.read_question_audio(ws)
    assert end["index"] == 0 and not errors
    return ws


class MalformedMessages(ivd.SharedDaemonTest):
    daemon_sections = {"limits": {"max_message_bytes": str(MAX_MESSAGE_BYTES)}}

    def test_errors_that_keep_the_session(self):
        async def scenario():
            ws = await open_first_question(self.daemon.url)
            cases = [
                ("not JSON", "this is { not json", "bad_json"),
                ("a JSON array", "[1, 2]", "bad_json"),
                ("unknown type", json.dumps({"type": "dance"}), "unknown_type"),
                ("no type", json.dumps({"text": "hello"}), "bad_message"),
                ("answer without text", json.dumps({"type": "answer"}), "bad_message"),
                ("answer with a number as text", json.dumps({"type": "answer", "text": 5}), "bad_message"),
                ("negative index", json.dumps({"type": "answer", "text": "x", "index": -1}), "bad_message"),
                ("wrong index", json.dumps({"type": "answer", "text": "x", "index": 7}), "no_question"),
                ("audio end without start", json.dumps({"type": "answer_audio_end"}), "bad_message"),
            ]
            for what, text, code in cases:
                await ws.send(text)
                error = await ivd.expect_type(ws, "error", code=code)
                self.assertIsInstance(error.get("message"), str, what)
                self.assertTrue(error["message"], what)
            # A binary frame outside an audio answer is dropped with an error.
            await ws.send(b"\xff\xf3\x64\xc4" * 100)
            await ivd.expect_type(ws, "error", code="unexpected_binary")
            # The question is still open: a proper answer is stored.
            await ws.send(json.dumps({"type": "answer", "text": "Still here.", "index": 0}))
            saved = await ivd.expect_type(ws, "answer_saved", index=0, kind="text")
            self.assertEqual(saved["bytes"], len("Still here."))
            # ... and the interview goes on.
            await ivd.expect_type(ws, "question_start", index=1)
            _, end, _ = await ivd.read_question_audio(ws)
            # A text message split across frames, with a UTF-8 character cut between frames.
            payload = json.dumps({"type": "answer", "text": "caf\u00e9 ok"}, ensure_ascii=False).encode()
            cut = payload.index("\u00e9".encode()) + 1
            await ws.write_frame(False, OP_TEXT, payload[:cut])
            await ws.write_frame(True, OP_CONT, payload[cut:])
            saved = await ivd.expect_type(ws, "answer_saved", index=1)
            self.assertEqual(saved["bytes"], len("caf\u00e9 ok".encode()))
            await ivd.expect_type(ws, "question_start", index=2)
            # An answer to an already answered question is refused.
            await ws.send(json.dumps({"type": "answer", "text": "late", "index": 1}))
            message = await ivd.recv_json(ws, skip_binary=True)
            while message["type"] != "error":
                message = await ivd.recv_json(ws, skip_binary=True)
            self.assertEqual(message["code"], "no_question")
            await ws.send(json.dumps({"type": "end"}))
            message = await ivd.recv_json(ws, skip_binary=True)
            while message["type"] != "interview_end":
                message = await ivd.recv_json(ws, skip_binary=True)
            self.assertEqual(message["answered"], 2)
            self.assertEqual(await ivd.expect_close(ws), 1000)
            return message["session_id"]

        session_id = asyncio.run(scenario())
        answers = [r["text"] for r in self.daemon.closed_records(session_id) if r["type"] == "answer"]
        self.assertEqual(answers, ["Still here.", "caf\u00e9 ok"])

    def test_oversized_text_message_closes_1009(self):
        async def scenario():
            ws = await open_first_question(self.daemon.url)
            await ws.send(json.dumps({"type": "answer", "text": "x" * (MAX_MESSAGE_BYTES + 100)}))
            error = await ivd.expect_type(ws, "error", code="message_too_large")
            self.assertIn(str(MAX_MESSAGE_BYTES), error["message"])
            self.assertEqual(await ivd.expect_close(ws), 1009)

        asyncio.run(scenario())

    def test_text_message_at_the_limit_is_accepted(self):
        async def scenario():
            ws = await open_first_question(self.daemon.url)
            prefix = json.dumps({"type": "answer", "text": ""})
            text = "y" * (MAX_MESSAGE_BYTES - len(prefix))
            message = json.dumps({"type": "answer", "text": text})
            self.assertEqual(len(message), MAX_MESSAGE_BYTES)
            await ws.send(message)
            saved = await ivd.expect_type(ws, "answer_saved", index=0)
            self.assertEqual(saved["bytes"], len(text))
            await ws.close()

        asyncio.run(scenario())

    def test_invalid_utf8_closes_1007(self):
        async def scenario(frames):
            ws = await open_first_question(self.daemon.url)
            # Raw frames, so the invalid bytes really go out (send() would refuse to encode them).
            for fin, opcode, data in frames:
                await ws.write_frame(fin, opcode, data)
            code = await ivd.expect_close(ws)
            return code

        whole = [(True, OP_TEXT, b'{"type":"answer","text":"\xff\xfe bad"}')]
        self.assertEqual(asyncio.run(scenario(whole)), 1007)
        # Invalid in the second fragment of a message (a lead byte followed by a non-continuation).
        split = [(False, OP_TEXT, b'{"type":"answer","text":"\xc3'), (True, OP_CONT, b'(x"}')]
        self.assertEqual(asyncio.run(scenario(split)), 1007)
        # The daemon still serves a new session afterwards.
        result = asyncio.run(ivd.run_interview(self.daemon.url))
        self.assertEqual(result.end["reason"], "completed")


if __name__ == "__main__":
    unittest.main()
