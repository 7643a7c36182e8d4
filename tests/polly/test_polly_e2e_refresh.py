"""End to end: temporary credentials from IMDSv2 and ECS that expire soon are refreshed in the
background before they expire; questions asked across the refresh all succeed."""
import asyncio
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from polly_e2e import (FakePolly, check_secrets_absent, clean_env, ivd, polly_sections,  # noqa: E402
                       require_plugin, requests_for, served_audio)

# Issued credentials live 40 s: the contract refreshes at half the remaining lifetime (20 s)
# when that is under 5 minutes, and the plugin stops handing out credentials 15 s before expiry,
# so 40 s leaves the background refresh the first word.
LIFETIME_S = 40
DEADLINE_S = 50           # give up waiting for the second key (the test then fails)
PAUSE_S = 0.5             # between questions: pacing, not a timing assertion
ECS_PATH = "/v2/credentials/refresh-test"
ECS_TOKEN = "Bearer refresh-token"


class PollyRefresh(unittest.TestCase):
    def test_imds_and_ecs_credentials_are_refreshed(self):
        tmp = tempfile.mkdtemp(prefix="polly-e2e-refresh-")
        with FakePolly(os.path.join(tmp, "fake"), extra_args=[
                "--cred-lifetime-s", str(LIFETIME_S), "--ecs-path", ECS_PATH,
                "--ecs-auth-token", ECS_TOKEN]) as fake:
            sources = {
                "imds": {"AWS_EC2_METADATA_DISABLED": None,
                         "AWS_EC2_METADATA_SERVICE_ENDPOINT": fake.metadata_url},
                "ecs": {"AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.metadata_url + ECS_PATH,
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN": ECS_TOKEN},
            }
            daemons = {}
            try:
                for source, extra in sources.items():
                    dtmp = tempfile.mkdtemp(prefix=f"{source}-", dir=tmp)
                    bank = ivd.write_bank(os.path.join(dtmp, "bank.txt"),
                                          [f"{source} question {i}." for i in range(200)])
                    daemons[source] = ivd.Daemon(polly_sections(fake, bank), tmp_dir=dtmp,
                                                 env=clean_env(dtmp, **extra), name=source)
                    daemons[source].start()
                results = asyncio.run(self.interviews(fake, daemons))
                for source, daemon in daemons.items():
                    daemon.stop_clean()
                    self.check(fake, source, results[source], daemon.log())
            finally:
                for daemon in daemons.values():
                    daemon.kill()

    async def interviews(self, fake, daemons):
        names = list(daemons)
        outcomes = await asyncio.gather(*(self.interview(fake, name, daemons[name].url) for name in names))
        return dict(zip(names, outcomes))

    async def interview(self, fake, source, url):
        """Ask questions until the fake has seen this source's second key (or the deadline)."""
        deadline = time.monotonic() + DEADLINE_S

        async def answer(ws, question):
            await asyncio.sleep(PAUSE_S)
            keys = await asyncio.to_thread(self.keys_used, fake, source)
            if len(keys) >= 2 or time.monotonic() > deadline:
                await ws.send(json.dumps({"type": "end"}))
            else:
                await ws.send(json.dumps({"type": "answer", "text": "fine"}))

        return await ivd.run_interview(url, answer=answer, timeout=60)

    @staticmethod
    def keys_used(fake, source):
        keys = []
        for entry in fake.requests():
            if entry["credential_source"] == source and entry["status"] == 200 \
                    and entry["access_key_id"] not in keys:
                keys.append(entry["access_key_id"])
        return keys

    def check(self, fake, source, result, log):
        self.assertEqual(result.end["reason"], "ended_by_client")
        keys = self.keys_used(fake, source)
        self.assertGreaterEqual(len(keys), 2, f"{source}: no second access key within {DEADLINE_S} s")
        for question in result.questions:
            self.assertEqual(question.errors, [], f"{source}: {question.text}")
            entries = requests_for(fake, question.text)
            self.assertEqual([e["status"] for e in entries], [200],
                             f"{source}: {question.text}: {[e.get('error') for e in entries]}")
            self.assertEqual(question.audio, served_audio(fake, entries))
        expired = [e for e in fake.requests() if e.get("expired_key")]
        self.assertEqual(expired, [], "a request was signed with expired credentials")
        check_secrets_absent(self, fake, log, extra=[ECS_TOKEN.split()[1]])
        # The new credentials came from the background refresh, not from a failed request.
        self.assertIn("refreshed AWS credentials from", log)
        fetches = [m for m in fake.metadata() if m.get("access_key_id") in keys]
        self.assertEqual(len(fetches), len(keys))
        self.assertLess(fetches[1]["time"], fetches[0]["expiration"],
                        f"{source}: the second key was fetched only after the first expired")


if __name__ == "__main__":
    require_plugin()
    unittest.main(verbosity=2)
