"""End to end: every source of the AWS credential chain works through the daemon against the fake
Polly and its fake ECS / IMDSv2 endpoints, in the SDKs' order, and no secret reaches the log."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from polly_e2e import (REGION, TEST_KEY_ID, TEST_SECRET, FakePolly, check_secrets_absent,  # noqa: E402
                       clean_env, ivd, polly_sections, require_plugin, requests_for, run, served_audio,
                       write_text)

SESSION_KEY = ("ASIAFAKESESSIONKEY01", "sessionSecret/0123456789abcdefghijklmn", "FQoGZXIvYXdzEFakeSessionToken+/=")
PROFILE_KEY = ("AKIDFAKEPROFILEKEY01", "profileSecret/0123456789abcdefghijklmn")
CONFIG_KEY = ("AKIDFAKECONFIGKEY001", "configSecret/0123456789abcdefghijklmno")
OPTION_KEY = ("AKIDFAKEOPTIONKEY001", "optionSecret/0123456789abcdefghijklmno")
ECS_TOKEN = "Bearer ecs-container-token-0123456789"
ECS_PATH = "/v2/credentials/interviewd-test"


class PollyCredentials(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="polly-e2e-creds-")
        keys = [(TEST_KEY_ID, TEST_SECRET), SESSION_KEY, PROFILE_KEY, CONFIG_KEY, OPTION_KEY]
        cls.fake = FakePolly(os.path.join(cls.tmp, "fake"), keys=keys,
                             extra_args=["--ecs-auth-token", ECS_TOKEN, "--ecs-path", ECS_PATH])
        cls.fake.start()
        cls.counter = 0

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def interview(self, name, env_extra, questions=None, with_region=True, **options):
        """One daemon with `env_extra` over the clean environment; returns (result, log, tmp)."""
        PollyCredentials.counter += 1
        tmp = tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp)
        questions = questions or [f"Question for the {name} credentials, number {self.counter}."]
        bank = ivd.write_bank(os.path.join(tmp, "bank.txt"), questions)
        sections = polly_sections(self.fake, bank, **options)
        if not with_region:
            sections["tts.polly-neural"].pop("region")
        env = clean_env(tmp, **{k: (v(tmp) if callable(v) else v) for k, v in env_extra.items()})
        with ivd.Daemon(sections, tmp_dir=tmp, env=env, name=name) as daemon:
            result = run(daemon.url)
            daemon.stop_clean()
            log = daemon.log()
        check_secrets_absent(self, self.fake, log, extra=[ECS_TOKEN.split()[1]])
        return result, log, tmp

    def check_spoken_with(self, result, key_id=None, source=None, token=None):
        """Every question succeeded, signed with `key_id` (or a key from `source`); returns entries."""
        used = []
        for question in result.questions:
            self.assertEqual(question.errors, [], question.text)
            entries = requests_for(self.fake, question.text)
            self.assertTrue(entries)
            ok = entries[-1]
            self.assertEqual(ok["status"], 200)
            self.assertTrue(ok["signature_valid"])
            self.assertEqual(question.audio, served_audio(self.fake, [ok]))
            if key_id:
                self.assertEqual(ok["access_key_id"], key_id)
            if source:
                self.assertEqual(ok["credential_source"], source)
            if token is not None:
                self.assertEqual(ok["has_session_token"], token)
                if token:
                    self.assertIn("x-amz-security-token", ok["signed_headers"].split(";"))
            used.append(ok)
        return used

    def test_environment(self):
        result, _, _ = self.interview("env", {"AWS_ACCESS_KEY_ID": TEST_KEY_ID, "AWS_SECRET_ACCESS_KEY": TEST_SECRET})
        self.check_spoken_with(result, TEST_KEY_ID, token=False)

    def test_environment_with_session_token(self):
        result, _, _ = self.interview("envtoken", {"AWS_ACCESS_KEY_ID": SESSION_KEY[0],
                                                   "AWS_SECRET_ACCESS_KEY": SESSION_KEY[1],
                                                   "AWS_SESSION_TOKEN": SESSION_KEY[2]})
        self.check_spoken_with(result, SESSION_KEY[0], token=True)

    def test_environment_comes_before_the_shared_file(self):
        def credentials(tmp):
            return write_text(os.path.join(tmp, "credentials"),
                              f"[default]\naws_access_key_id = {PROFILE_KEY[0]}\n"
                              f"aws_secret_access_key = {PROFILE_KEY[1]}\n")
        result, _, _ = self.interview("envfirst", {"AWS_ACCESS_KEY_ID": TEST_KEY_ID,
                                                   "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
                                                   "AWS_SHARED_CREDENTIALS_FILE": credentials})
        self.check_spoken_with(result, TEST_KEY_ID)

    def test_shared_credentials_file_with_profile(self):
        def credentials(tmp):
            return write_text(os.path.join(tmp, "credentials"),
                              "# test credentials\n"
                              "[default]\naws_access_key_id = AKIDNOTTHISONE\naws_secret_access_key = nope\n\n"
                              f"[interview]\naws_access_key_id = {PROFILE_KEY[0]}\n"
                              f"aws_secret_access_key = {PROFILE_KEY[1]}\n")
        result, log, _ = self.interview("profile", {"AWS_SHARED_CREDENTIALS_FILE": credentials,
                                                    "AWS_PROFILE": "interview"})
        self.check_spoken_with(result, PROFILE_KEY[0], token=False)

    def test_profile_option_and_session_token_in_file(self):
        def credentials(tmp):
            return write_text(os.path.join(tmp, "credentials"),
                              f"[chosen]\naws_access_key_id = {SESSION_KEY[0]}\n"
                              f"aws_secret_access_key = {SESSION_KEY[1]}\n"
                              f"aws_session_token = {SESSION_KEY[2]}\n"
                              f"[other]\naws_access_key_id = {OPTION_KEY[0]}\n"
                              f"aws_secret_access_key = {OPTION_KEY[1]}\n")
        result, _, _ = self.interview("profileopt", {"AWS_SHARED_CREDENTIALS_FILE": credentials,
                                                     "AWS_PROFILE": "other"}, profile="chosen")
        self.check_spoken_with(result, SESSION_KEY[0], token=True)

    def test_config_file_profile_with_region(self):
        def config(tmp):
            return write_text(os.path.join(tmp, "config"),
                              f"[profile cfg]\nregion = {REGION}\naws_access_key_id = {CONFIG_KEY[0]}\n"
                              f"aws_secret_access_key = {CONFIG_KEY[1]}\n")
        result, log, _ = self.interview("config", {"AWS_CONFIG_FILE": config, "AWS_PROFILE": "cfg"},
                                        with_region=False)
        self.check_spoken_with(result, CONFIG_KEY[0])

    def test_ecs_full_uri_with_token(self):
        result, _, _ = self.interview("ecs", {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.fake.metadata_url + ECS_PATH,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": ECS_TOKEN})
        used = self.check_spoken_with(result, source="ecs", token=True)
        fetches = [m for m in self.fake.metadata() if m["kind"] == "ecs" and m["status"] == 200
                   and m["access_key_id"] == used[0]["access_key_id"]]
        self.assertEqual(len(fetches), 1)
        self.assertTrue(fetches[0]["authorization_given"])

    def test_ecs_full_uri_with_token_file(self):
        def token_file(tmp):
            return write_text(os.path.join(tmp, "ecs-token"), ECS_TOKEN + "\n")
        result, _, _ = self.interview("ecsfile", {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.fake.metadata_url + ECS_PATH,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer the-file-wins"})
        self.check_spoken_with(result, source="ecs", token=True)

    def test_ecs_wrong_token_is_a_credentials_error(self):
        result, log, _ = self.interview("ecsbad", {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.fake.metadata_url + ECS_PATH,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer wrong"})
        question = result.questions[0]
        self.assertEqual([e["code"] for e in question.errors], ["tts_credentials"])
        self.assertIs(question.end.get("complete"), False)
        self.assertEqual(requests_for(self.fake, question.text), [], "nothing may be sent unsigned")
        self.assertNotIn("Bearer wrong", log)

    def test_imdsv2(self):
        before = len(self.fake.metadata())
        result, _, _ = self.interview("imds", {"AWS_EC2_METADATA_DISABLED": None,
                                               "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.fake.metadata_url})
        self.check_spoken_with(result, source="imds", token=True)
        calls = [(m["kind"], m["method"], m["status"]) for m in self.fake.metadata()[before:]]
        self.assertEqual(calls[:3], [("imds-token", "PUT", 200), ("imds-role", "GET", 200),
                                     ("imds-credentials", "GET", 200)], calls)

    def test_expired_token_gets_new_credentials(self):
        questions = ["First question with instance credentials.", "Second question after they expired."]
        tmp = tempfile.mkdtemp(prefix="expire-", dir=self.tmp)
        bank = ivd.write_bank(os.path.join(tmp, "bank.txt"), questions)
        env = clean_env(tmp, AWS_EC2_METADATA_DISABLED=None,
                        AWS_EC2_METADATA_SERVICE_ENDPOINT=self.fake.metadata_url)
        expired = []

        def answer(question):
            if question.start["index"] == 0:
                expired.extend(self.fake.expire_credentials())  # as if the clock ran past Expiration
            return {"type": "answer", "text": "ok"}

        with ivd.Daemon(polly_sections(self.fake, bank), tmp_dir=tmp, env=env, name="expire") as daemon:
            result = run(daemon.url, answer=answer)
            daemon.stop_clean()
        first, second = result.questions
        self.assertEqual((first.errors, second.errors), ([], []))
        key1 = requests_for(self.fake, questions[0])[-1]["access_key_id"]
        self.assertIn(key1, expired)
        entries = requests_for(self.fake, questions[1])
        self.assertEqual([e["error"] for e in entries], ["ExpiredTokenException", None],
                         "the plugin should fetch new credentials after ExpiredToken and retry once")
        self.assertEqual(entries[0]["access_key_id"], key1)
        self.assertNotEqual(entries[1]["access_key_id"], key1)
        self.assertEqual(second.audio, served_audio(self.fake, entries))

    def test_endpoint_and_region_from_environment(self):
        keys = {"AWS_ACCESS_KEY_ID": TEST_KEY_ID, "AWS_SECRET_ACCESS_KEY": TEST_SECRET}
        for name, extra in (("envpolly", {"AWS_ENDPOINT_URL_POLLY": self.fake.url, "AWS_REGION": REGION,
                                          "AWS_ENDPOINT_URL": "https://127.0.0.1:9/"}),
                            ("envgeneric", {"AWS_ENDPOINT_URL": self.fake.url, "AWS_DEFAULT_REGION": REGION})):
            result, _, _ = self.interview(name, dict(keys, **extra), with_region=False, endpoint="")
            self.check_spoken_with(result, TEST_KEY_ID)

    def test_no_credentials_anywhere(self):
        result, log, _ = self.interview("none", {})
        question = result.questions[0]
        self.assertEqual([e["code"] for e in question.errors], ["tts_credentials"])
        self.assertIs(question.end.get("complete"), False)
        self.assertEqual(requests_for(self.fake, question.text), [])
        self.assertIn("AWS_ACCESS_KEY_ID", log, "the log should say where credentials can come from")


if __name__ == "__main__":
    require_plugin()
    unittest.main(verbosity=2)
