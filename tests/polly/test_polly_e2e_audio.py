"""End to end through the daemon and the Polly plugin against the fake Polly: the client hears
exactly the audio Polly served, with the right request parameters, billing and connection reuse."""
import asyncio
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from polly_e2e import (FakePolly, audio_records, check_secrets_absent, ivd, polly_sections,  # noqa: E402
                       require_plugin, requests_for, run, served_audio, static_env, write_json_bank)

MARKER_RE = re.compile(r"\[\[fake:[^\]]*\]\]")


def billed(text):
    return len(MARKER_RE.sub("", text))


class PollyAudio(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="polly-e2e-audio-")
        cls.fake = FakePolly(os.path.join(cls.tmp, "fake"))
        cls.fake.start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def daemon(self, name, bank, backend="polly-neural", **options):
        sections = polly_sections(self.fake, bank, backend=backend, **options)
        tmp = tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp)
        return ivd.Daemon(sections, tmp_dir=tmp, env=static_env(tmp), name=name)

    def check_question(self, question, text=None):
        text = text or question.text
        self.assertEqual(question.errors, [], f"{text!r}: errors")
        self.assertNotIn("complete", question.end)
        entries = requests_for(self.fake, text)
        self.assertTrue(entries, f"the fake saw no request for {text!r}")
        expected = served_audio(self.fake, entries)
        self.assertGreater(len(expected), 0)
        self.assertEqual(len(question.audio), len(expected), f"{text!r}: audio length")
        self.assertEqual(question.audio, expected, f"{text!r}: audio bytes differ from what Polly served")
        self.assertEqual(question.end["audio_bytes"], len(expected))
        return entries

    def test_neural_mp3_audio_is_what_polly_served(self):
        questions = [
            "Tell me about yourself.",
            "자기소개를 해 주세요. 왜 이 회사에 지원하셨나요?",
            "Describe a hard bug you fixed. [[fake:transfer=length]]",
            "What did you learn from it? [[fake:first-byte-delay=300,pace=200000,block=777]]",
            "Any questions for us? [[fake:block=1]]",
        ]
        bank = ivd.write_bank(os.path.join(self.tmp, "neural.txt"), questions)
        with self.daemon("neural", bank) as daemon:
            result = run(daemon.url)
            start = result.session_start
            self.assertEqual((start["backend"], start["voice"]), ("polly-neural", "Seoyeon"))
            self.assertEqual(start["audio"], {"mime_type": "audio/mpeg", "sample_rate": 24000})
            self.assertEqual([q.text for q in result.questions], questions)
            records = audio_records(daemon, result.session_id)
            self.assertEqual(len(records), len(questions))
            for question, record in zip(result.questions, records):
                entries = self.check_question(question)
                ivd.check_mp3_messages(question.frames, start["chunk_bytes"])
                self.assertEqual(len(entries), 1, f"{question.text!r}: one request, no retry")
                entry = entries[0]
                self.assertTrue(entry["signature_valid"])
                self.assertIn(entry["signed_headers"], ("content-type;host;x-amz-date",
                                                        "content-type;host;x-amz-content-sha256;x-amz-date"))
                self.assertEqual(entry["content_type"], "application/json")
                self.assertEqual((entry["engine"], entry["voice"], entry["output_format"], entry["sample_rate"],
                                  entry["text_type"]), ("neural", "Seoyeon", "mp3", "24000", "text"))
                self.assertNotIn("LanguageCode", entry["body"])
                self.assertEqual(entry["billed"], billed(question.text))
                # The session record carries the billed characters Polly reported.
                self.assertEqual((record["index"], record["outcome"], record["bytes"]),
                                 (question.start["index"], "complete", len(question.audio)))
                self.assertEqual(record["billed_characters"], billed(question.text), record)
                self.assertEqual(record["requests"], 1, record)
            transfers = {e["transfer"] for e in self.fake.requests() if e["status"] == 200}
            self.assertEqual(transfers, {"chunked", "length"})
            # Kept-alive connection: later requests ride the first one's connection.
            entries = [requests_for(self.fake, q)[0] for q in questions]
            self.assertTrue(all(e["reused_connection"] for e in entries[1:]),
                            [(e["connection"], e["reused_connection"]) for e in entries])
            self.assertEqual(len({e["connection"] for e in entries}), 1)
            daemon.stop_clean()
            log = daemon.log()
            total = sum(billed(q) for q in questions)
            self.assertRegex(log, rf"polly-neural: {len(questions)} requests, {total} billed characters")
            check_secrets_absent(self, self.fake, log)

    def test_standard_engine_pcm(self):
        questions = ["Why do you want this job?", "Where do you see yourself in five years?"]
        bank = ivd.write_bank(os.path.join(self.tmp, "standard.txt"), questions)
        with self.daemon("standard", bank, backend="polly-standard", voice="Joanna", format="pcm",
                         language="en-US") as daemon:
            result = run(daemon.url)
            start = result.session_start
            self.assertEqual((start["backend"], start["voice"]), ("polly-standard", "Joanna"))
            self.assertEqual(start["audio"], {"mime_type": "audio/L16", "sample_rate": 16000})
            for question in result.questions:
                entries = self.check_question(question)
                self.assertEqual(len(entries), 1)
                body = entries[0]["body"]
                self.assertEqual((body["Engine"], body["OutputFormat"], body["SampleRate"], body["VoiceId"],
                                  body["LanguageCode"]), ("standard", "pcm", "16000", "Joanna", "en-US"))
                for frame in question.frames:
                    self.assertEqual(len(frame) % 2, 0, "PCM messages hold whole samples")
            daemon.stop_clean()

    def test_long_text_is_split_into_ordered_requests(self):
        sentences = [f"Sentence number {i} of a long question about distributed systems and queues."
                     for i in range(100)]
        long_text = " ".join(sentences)
        self.assertGreater(len(long_text), 6000)
        bank = ivd.write_bank(os.path.join(self.tmp, "long.txt"), [long_text])
        with self.daemon("long", bank) as daemon:
            before = len(self.fake.requests())
            result = run(daemon.url)
            question = result.questions[0]
            self.assertEqual(question.errors, [])
            entries = self.fake.requests()[before:]
            self.assertGreaterEqual(len(entries), 3, "text over 6000 characters needs at least 3 requests")
            for entry in entries:
                self.assertEqual(entry["status"], 200, entry.get("error_message"))
                self.assertLessEqual(entry["billed"], 3000)
            pieces = [e["body"]["Text"] for e in entries]
            for piece in pieces[:-1]:
                self.assertTrue(piece.rstrip().endswith("."), f"piece not cut at a sentence end: ...{piece[-40:]!r}")
            self.assertEqual(re.sub(r"\s+", "", "".join(pieces)), re.sub(r"\s+", "", long_text))
            # One stream, in order: the concatenation of every piece's audio.
            self.assertEqual(question.audio, served_audio(self.fake, entries))
            record = audio_records(daemon, result.session_id)[0]
            self.assertEqual(record["requests"], len(entries))
            self.assertEqual(record["billed_characters"], sum(e["billed"] for e in entries))
            daemon.stop_clean()

    def test_ssml_questions_and_speaking_rate(self):
        plain = "Q&A time: is 3 < 5 and \"x\" > 'y'?"
        ssml = '<speak>Hello <break time="300ms"/> world &amp; more.</speak>'
        bank = write_json_bank(os.path.join(self.tmp, "ssml.json"),
                               [("plain", plain, False), ("ssml", ssml, True)])
        with self.daemon("ssml", bank, speaking_rate="90%", voice="Joanna") as daemon:
            result = run(daemon.url)
            first, second = result.questions
            self.assertEqual(first.errors, [])
            entries = [e for e in self.fake.requests() if e.get("voice") == "Joanna" and e["status"] == 200]
            wrapped = [e for e in entries if e["text_type"] == "ssml" and "prosody" in e["body"]["Text"]]
            self.assertEqual(len(wrapped), 1, [e["body"]["Text"] for e in entries])
            self.assertIn('rate="90%"', wrapped[0]["body"]["Text"])
            self.assertEqual(wrapped[0]["billed"], len(plain), "the escaped text is billed as the plain text")
            self.assertEqual(first.audio, served_audio(self.fake, wrapped))
            self.assertEqual(second.errors, [])
            as_ssml = requests_for(self.fake, ssml)
            self.assertEqual(len(as_ssml), 1, "an SSML question is sent as is")
            self.assertEqual((as_ssml[0]["text_type"], as_ssml[0]["billed"]), ("ssml", len("Hello  world & more.")))
            self.assertEqual(second.audio, served_audio(self.fake, as_ssml))
            daemon.stop_clean()

    def test_concurrent_sessions(self):
        questions = ["Concurrent question one.", "Concurrent question two, a little longer than one."]
        bank = ivd.write_bank(os.path.join(self.tmp, "concurrent.txt"), questions)
        with self.daemon("concurrent", bank) as daemon:
            async def many():
                return await asyncio.gather(*(ivd.run_interview(daemon.url) for _ in range(6)))
            results = asyncio.run(many())
            for result in results:
                self.assertEqual(result.end["reason"], "completed")
                for question in result.questions:
                    entries = [e for e in requests_for(self.fake, question.text) if e.get("complete")]
                    self.assertEqual(question.errors, [])
                    self.assertEqual(question.audio, self.fake.served(entries[0]["seq"]))
            self.assertEqual(len(requests_for(self.fake, questions[0])), 6)
            daemon.stop_clean()

    def test_check_config_asks_describe_voices(self):
        bank = ivd.write_bank(os.path.join(self.tmp, "check.txt"), ["Hi."])
        good = self.daemon("check-good", bank, check_voice="true")
        good.write_config()
        proc = ivd.run_interviewd(["--config", good.config_path, "--check-config"], env=good.env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        voices = self.fake.requests(kind="DescribeVoices")
        self.assertTrue(voices, "--check-config with check_voice did not call DescribeVoices")
        self.assertTrue(voices[-1]["signature_valid"])
        self.assertIn("Engine=neural", voices[-1]["query"])
        bad = self.daemon("check-bad", bank, backend="polly-standard", voice="Matthew", check_voice="true")
        bad.write_config()
        proc = ivd.run_interviewd(["--config", bad.config_path, "--check-config"], env=bad.env)
        self.assertNotEqual(proc.returncode, 0, "Matthew has no standard engine: the check must fail")
        self.assertRegex(proc.stderr, r"voice Matthew[^\n]*engine standard")


if __name__ == "__main__":
    require_plugin()
    unittest.main(verbosity=2)
