"""50 concurrent interviews on one daemon all complete, each with the right audio and its own records."""
import asyncio
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402

SESSIONS = 50


class ConcurrentSessions(unittest.TestCase):
    def test_fifty_concurrent_sessions(self):
        bank = ivd.read_bank(ivd.data_path("questions-en.txt"))
        with ivd.Daemon({"server": {"audio_chunk_bytes": "2048"}}) as daemon:
            async def one(n):
                def answer(question):
                    return {"type": "answer", "text": f"client {n} answers {question.start['index']}"}
                return await ivd.run_interview(daemon.url, answer, timeout=60)

            async def all_sessions():
                return await asyncio.gather(*(one(n) for n in range(SESSIONS)))

            results = asyncio.run(all_sessions())
            self.assertEqual(len({r.session_id for r in results}), SESSIONS, "session ids must be unique")
            for n, result in enumerate(results):
                self.assertEqual(result.end["reason"], "completed")
                self.assertEqual(result.end["answered"], len(bank))
                self.assertEqual(result.close_code, 1000)
                self.assertEqual([q.text for q in result.questions], bank)
                for question in result.questions:
                    ivd.check_mock_audio(question, 2048)
                    self.assertEqual(question.saved["kind"], "text")
            daemon.stop_clean()
            # Every session's answers went to its own record, none mixed up.
            for n, result in enumerate(results):
                answers = [r["text"] for r in daemon.records(result.session_id) if r["type"] == "answer"]
                self.assertEqual(answers, [f"client {n} answers {i}" for i in range(len(bank))])


if __name__ == "__main__":
    unittest.main()
