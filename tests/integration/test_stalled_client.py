"""Clients that stop reading: the daemon's memory stays bounded, others are served, and they are closed after send_timeout_s."""
import asyncio
import os
import select
import sys
import time
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402

AUDIO_BYTES = 48 * 1024 * 1024  # one question's audio: far more than socket buffers hold
GROWTH_LIMIT_KB = 16 * 1024  # a daemon that buffered the stalled client's audio grows ~40 MB
QUESTION = "Please listen to this very long question before you answer."


def make_long_recording(path, size):
    """Whole MP3 frames (a sample recording repeated) up to about `size` bytes."""
    sample = ivd.strip_id3(open(ivd.data_path("mock-audio", "default.mp3"), "rb").read())
    ivd.mp3_frames(sample)  # the sample is whole frames, so repeating it stays valid MP3
    with open(path, "wb") as f:
        for _ in range(size // len(sample) + 1):
            f.write(sample)


class RssSampler(threading.Thread):
    """Samples the daemon's VmRSS until stopped; keeps the largest value."""

    def __init__(self, daemon):
        super().__init__(daemon=True)
        self.daemon_proc = daemon
        self.peak_kb = daemon.rss_kb()
        self.samples = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.02):
            try:
                self.peak_kb = max(self.peak_kb, self.daemon_proc.rss_kb())
                self.samples += 1
            except (OSError, AssertionError):
                return


class StalledClient(unittest.TestCase):
    def test_stalled_client_is_bounded_and_closed(self):
        # ASan keeps freed memory in quarantine (256 MB by default); shrink it so RSS reflects
        # live memory, not the other client's freed audio messages.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=4"]))
        daemon = ivd.Daemon({
            "server": {"audio_chunk_bytes": "65536"},
            "limits": {"session_buffer_bytes": "65536", "send_timeout_s": "3", "ping_interval_s": "0"},
            "tts.mock": {"block_bytes": "65536", "manifest": "none.json"},
        }, env=env)
        audio_dir = os.path.join(daemon.tmp_dir, "audio")
        os.mkdir(audio_dir)
        make_long_recording(os.path.join(audio_dir, "default.mp3"), AUDIO_BYTES)
        expected_size = os.path.getsize(os.path.join(audio_dir, "default.mp3"))
        daemon.sections["tts.mock"]["audio_dir"] = audio_dir
        daemon.sections["questions.file"]["path"] = ivd.write_bank(
            os.path.join(daemon.tmp_dir, "bank.txt"), [QUESTION])
        with daemon:
            baseline_kb = daemon.rss_kb()
            sampler = RssSampler(daemon)
            sampler.start()
            stalled = ivd.raw_upgrade(daemon.url, rcvbuf=4096)
            stalled_id = daemon.wait_for_log(r"session ([0-9a-f]{32}): connected").group(1)

            # Meanwhile another client gets the whole interview, all 48 MB of its audio.
            result = asyncio.run(ivd.run_interview(daemon.url, timeout=60))
            self.assertEqual(result.end["reason"], "completed")
            self.assertEqual(result.close_code, 1000)
            question = result.questions[0]
            self.assertEqual(len(question.audio), expected_size)
            ivd.check_mp3_messages(question.frames, 65536)

            # The stalled client is closed after send_timeout_s, and its synthesis cancelled.
            daemon.wait_for_log(rf"session {stalled_id}: closed after", timeout=60)
            daemon.wait_for_log(rf"session {stalled_id}: synthesis of question 0 cancelled")
            sampler.done.set()
            sampler.join()
            self.assertGreater(sampler.samples, 10)
            growth_kb = sampler.peak_kb - baseline_kb
            self.assertLess(growth_kb, GROWTH_LIMIT_KB,
                            f"VmRSS grew by {growth_kb} KiB while a client was stalled "
                            f"(baseline {baseline_kb} KiB, peak {sampler.peak_kb} KiB)")
            # Its connection is really closed: after what was already in flight, EOF.
            received = ivd.drain_until_closed(stalled, timeout=30)
            stalled.close()
            self.assertLess(received, expected_size // 2,
                            "the stalled client should not have been sent most of the audio")
            records = daemon.closed_records(stalled_id)
            audio = [r for r in records if r["type"] == "audio"]
            self.assertEqual([r["outcome"] for r in audio], ["cancelled"])
            self.assertLess(audio[0]["bytes"], expected_size // 2)
            # Still serving.
            self.assertEqual(asyncio.run(ivd.run_interview(daemon.url, timeout=60)).end["reason"],
                             "completed")
            daemon.stop_clean()

    def many_stalled_daemon(self, limits):
        """A daemon whose one question has 16 MB of audio: no stalled client ever gets to its end."""
        daemon = ivd.Daemon({
            "limits": dict({"session_buffer_bytes": "65536", "ping_interval_s": "0"}, **limits),
            "tts.mock": {"manifest": "none.json"},
        })
        audio_dir = os.path.join(daemon.tmp_dir, "audio")
        os.mkdir(audio_dir)
        make_long_recording(os.path.join(audio_dir, "default.mp3"), 16 * 1024 * 1024)
        daemon.sections["tts.mock"]["audio_dir"] = audio_dir
        daemon.sections["questions.file"]["path"] = ivd.write_bank(
            os.path.join(daemon.tmp_dir, "bank.txt"), [QUESTION])
        return daemon

    @staticmethod
    def stall(daemon, count):
        """`count` clients that upgrade, receive the start of their question, then read nothing."""
        sockets = [ivd.raw_upgrade(daemon.url, rcvbuf=4096) for _ in range(count)]
        for sock in sockets:  # each one's synthesis has started: audio is on its way
            readable, _, _ = select.select([sock], [], [], ivd.RECV_TIMEOUT)
            assert readable, "a stalled client got nothing: its question did not start"
        time.sleep(0.5)  # and has filled the socket and the session buffer
        return sockets

    def test_stalled_clients_do_not_hold_up_others(self):
        # workers = 0 (the default): a thread per session, so ten clients that never read, each
        # with a synthesis blocked on its full buffer, take no thread from anyone else.
        daemon = self.many_stalled_daemon({"max_sessions": "12", "send_timeout_s": "120"})
        with daemon:
            stalled = self.stall(daemon, 10)
            result = asyncio.run(ivd.run_interview(daemon.url, timeout=30))
            self.assertEqual(result.end["reason"], "completed")
            self.assertEqual(len(result.questions[0].audio),
                             os.path.getsize(os.path.join(daemon.tmp_dir, "audio", "default.mp3")))
            self.assertNotIn("client disconnected", daemon.log(), "the stalled clients are still connected")
            for sock in stalled:
                sock.close()
            daemon.stop_clean()

    def test_fewer_workers_than_stalled_clients_delays_others_until_send_timeout(self):
        # The documented cost of capping [limits] workers: four stalled syntheses hold all four
        # threads, so a new session waits until send_timeout_s closes them.
        daemon = self.many_stalled_daemon({"max_sessions": "12", "workers": "4", "send_timeout_s": "4"})
        with daemon:
            stalled = self.stall(daemon, 4)

            async def late_client():
                ws = await ivd.connect(daemon.url)
                with self.assertRaises(asyncio.TimeoutError):
                    await ivd.recv(ws, timeout=1.5)  # no thread to open the session
                return await ivd.run_interview(daemon.url, ws=ws, timeout=30)

            started = time.monotonic()
            result = asyncio.run(late_client())
            self.assertEqual(result.end["reason"], "completed")
            self.assertGreater(time.monotonic() - started, 1.5)
            self.assertEqual(daemon.log().count("client disconnected)"), 4, daemon.log())
            for sock in stalled:
                sock.close()
            daemon.stop_clean()


if __name__ == "__main__":
    unittest.main()
