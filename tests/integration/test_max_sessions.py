"""[limits] max_sessions: one connection more than the limit gets server_busy and close 1013; a freed slot is reused."""
import asyncio
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402

LIMIT = 3


class MaxSessions(unittest.TestCase):
    def test_one_more_than_the_limit_is_refused(self):
        with ivd.Daemon({"limits": {"max_sessions": str(LIMIT)}}) as daemon:
            async def open_session():
                ws = await ivd.connect(daemon.url)
                start = await ivd.expect_type(ws, "session_start")
                await ivd.expect_type(ws, "question_start", index=0)
                return ws, start["session_id"]

            async def scenario():
                sessions = [await open_session() for _ in range(LIMIT)]
                busy = await ivd.connect(daemon.url)
                error = await ivd.expect_type(busy, "error", code="server_busy")
                self.assertTrue(error["message"])
                self.assertEqual(await ivd.expect_close(busy), 1013)
                # The open sessions were not disturbed.
                for ws, _ in sessions:
                    _, end, errors = await ivd.read_question_audio(ws)
                    self.assertEqual(errors, [])
                # Once one closes, a new client gets its place.
                ws, first_id = sessions.pop(0)
                await ws.close()
                await daemon.await_log(rf"session {first_id}: closed")
                result = await ivd.run_interview(daemon.url)
                self.assertEqual(result.end["reason"], "completed")
                for ws, _ in sessions:
                    await ws.close()

            asyncio.run(scenario())
            daemon.stop_clean()


if __name__ == "__main__":
    unittest.main()
