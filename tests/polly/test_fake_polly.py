"""The fake Polly speaks Polly's wire format: checked with botocore's real Polly client and signer."""
import json
import os
import sys
import unittest
import urllib.error
import urllib.request

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakepolly_harness import REGION, TEST_KEY_ID, TEST_SECRET, FakePolly  # noqa: E402
import fake_polly  # noqa: E402

TEMP_KEY = ("ASIAFAKETEMPKEY00001", "tempSecret/abcdefghijklmnopqrstuvwxyz", "FwoGZXIvYXdzEXAMPLETOKEN//fake")


def client(fake, key_id=TEST_KEY_ID, secret=TEST_SECRET, token=None, region=REGION, attempts=1,
           mode="standard"):
    session = botocore.session.Session()
    session.set_config_variable("credentials_file", "/nonexistent")
    session.set_config_variable("config_file", "/nonexistent")
    return session.create_client(
        "polly", region_name=region, endpoint_url=fake.url, verify=fake.ca_file,
        aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=token,
        config=Config(retries={"total_max_attempts": attempts, "mode": mode}, connect_timeout=10, read_timeout=30))


def raw_request(fake, body, key_id=TEST_KEY_ID, secret=TEST_SECRET, token=None, timestamp=None,
                region=REGION, method="POST", path="/v1/speech", tamper=None):
    """Sign with botocore's SigV4Auth (optionally at another time), send with urllib.
    Returns (status, headers, body bytes)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = AWSRequest(method=method, url=fake.url + path, data=data if method == "POST" else None,
                         headers={"Content-Type": "application/json"} if method == "POST" else {})
    signer = SigV4Auth(Credentials(key_id, secret, token), "polly", region)
    if timestamp is None:
        signer.add_auth(request)
    else:
        request.context["timestamp"] = timestamp
        signer._modify_request_before_signing(request)
        canonical = signer.canonical_request(request)
        signer._inject_signature_to_request(request, signer.signature(
            signer.string_to_sign(request, canonical), request))
    headers = dict(request.headers.items())
    if tamper:
        data = tamper(data)
    http = urllib.request.Request(fake.url + path, data=data if method == "POST" else None, method=method,
                                  headers=headers)
    try:
        with urllib.request.urlopen(http, context=fake._ssl, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


class FakePollyWire(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakePolly(keys=[(TEST_KEY_ID, TEST_SECRET), TEMP_KEY],
                             extra_args=["--lexicon", "interviewTerms", "--ecs-auth-token", "Bearer ecs-secret"])
        cls.fake.start()
        cls.polly = client(cls.fake)

    @classmethod
    def tearDownClass(cls):
        cls.fake.__exit__(None, None, None)

    def last(self):
        return self.fake.requests()[-1]

    def assert_error(self, code, status, call, **kwargs):
        with self.assertRaises(ClientError) as caught:
            call(**kwargs)
        error = caught.exception.response
        self.assertEqual(error["Error"]["Code"], code, error)
        self.assertEqual(error["ResponseMetadata"]["HTTPStatusCode"], status, error)
        self.assertTrue(error["ResponseMetadata"].get("RequestId"), "no x-amzn-RequestId")
        self.assertTrue(error["Error"]["Message"], error)
        return error

    def synth(self, **kwargs):
        params = {"Engine": "neural", "OutputFormat": "mp3", "Text": "Hello there.", "VoiceId": "Joanna"}
        params.update(kwargs)
        return self.polly.synthesize_speech(**params)

    # ---- success -------------------------------------------------------------------------
    def test_signed_synthesis_returns_the_mp3(self):
        text = "Tell me about a project you are proud of."
        response = self.synth(Text=text, SampleRate="24000")
        audio = response["AudioStream"].read()
        entry = self.last()
        self.assertEqual(response["ContentType"], "audio/mpeg")
        self.assertEqual(response["RequestCharacters"], len(text))
        self.assertTrue(entry["signature_valid"])
        self.assertEqual(entry["signed_headers"], "content-type;host;x-amz-date")
        self.assertEqual((entry["engine"], entry["voice"], entry["sample_rate"]), ("neural", "Joanna", "24000"))
        self.assertEqual(audio, self.fake.served(entry["seq"]))
        self.assertEqual(response["ResponseMetadata"]["RequestId"], entry["request_id"])
        # Whole MP3 frames taken from the file given with --mp3, ID3 tags removed.
        with open(fake_polly_mp3(self.fake), "rb") as f:
            frames = fake_polly.mp3_frames(f.read())
        self.assertTrue(b"".join(frames).startswith(audio))
        self.assertEqual(b"".join(fake_polly.mp3_frames(audio)), audio)
        self.assertGreater(len(audio), 1000)

    def test_korean_text_and_content_length_transfer(self):
        text = "자기소개를 해 주세요."
        response = self.synth(Text=f"{text}[[fake:transfer=length]]", VoiceId="Seoyeon", LanguageCode="ko-KR")
        audio = response["AudioStream"].read()
        entry = self.last()
        self.assertEqual(entry["transfer"], "length")
        self.assertEqual(response["RequestCharacters"], len(text))  # markers are not billed
        self.assertEqual(audio, self.fake.served(entry["seq"]))

    def test_ssml_tags_are_not_billed(self):
        ssml = '<speak><prosody rate="90%">Why &amp; how?</prosody></speak>'
        response = self.synth(Text=ssml, TextType="ssml")
        response["AudioStream"].read()
        self.assertEqual(response["RequestCharacters"], len("Why & how?"))

    def test_pcm_and_ogg(self):
        response = self.synth(OutputFormat="pcm", SampleRate="16000", Engine="standard", VoiceId="Seoyeon")
        pcm = response["AudioStream"].read()
        self.assertEqual(response["ContentType"], "audio/pcm")
        self.assertEqual(len(pcm) % 2, 0)
        self.assertGreater(len(pcm), 3200)
        response = self.synth(OutputFormat="ogg_vorbis")
        ogg = response["AudioStream"].read()
        self.assertEqual(response["ContentType"], "audio/ogg")
        self.assertEqual(ogg[:4], b"OggS")

    def test_temporary_credentials_need_their_token(self):
        polly = client(self.fake, TEMP_KEY[0], TEMP_KEY[1], TEMP_KEY[2])
        response = polly.synthesize_speech(Engine="neural", OutputFormat="mp3", Text="Hi.", VoiceId="Joanna")
        response["AudioStream"].read()
        entry = self.last()
        self.assertTrue(entry["has_session_token"])
        self.assertEqual(entry["signed_headers"], "content-type;host;x-amz-date;x-amz-security-token")
        without = client(self.fake, TEMP_KEY[0], TEMP_KEY[1])
        self.assert_error("UnrecognizedClientException", 403, without.synthesize_speech, Engine="neural",
                          OutputFormat="mp3", Text="Hi.", VoiceId="Joanna")
        wrong = client(self.fake, TEMP_KEY[0], TEMP_KEY[1], TEMP_KEY[2] + "x")
        self.assert_error("UnrecognizedClientException", 403, wrong.synthesize_speech, Engine="neural",
                          OutputFormat="mp3", Text="Hi.", VoiceId="Joanna")

    def test_connection_is_reused(self):
        for _ in range(2):
            self.synth(Text="Reuse me.")["AudioStream"].read()
        self.assertTrue(self.last()["reused_connection"])

    # ---- authentication ------------------------------------------------------------------
    def test_wrong_secret_is_refused(self):
        bad = client(self.fake, secret=TEST_SECRET + "x")
        error = self.assert_error("InvalidSignatureException", 403, bad.synthesize_speech, Engine="neural",
                                  OutputFormat="mp3", Text="Hi.", VoiceId="Joanna")
        self.assertIn("signature we calculated does not match", error["Error"]["Message"])
        self.assertFalse(self.last()["signature_valid"])

    def test_tampered_body_is_refused(self):
        status, headers, body = raw_request(
            self.fake, {"Engine": "neural", "OutputFormat": "mp3", "Text": "Hi.", "VoiceId": "Joanna"},
            tamper=lambda data: data.replace(b"Hi.", b"Ho."))
        self.assertEqual(status, 403)
        self.assertTrue(headers["x-amzn-ErrorType"].startswith("InvalidSignatureException:"))
        self.assertIn("message", json.loads(body))

    def test_unknown_key_wrong_region_old_date(self):
        unknown = client(self.fake, key_id="AKIDUNKNOWN")
        self.assert_error("UnrecognizedClientException", 403, unknown.synthesize_speech, Engine="neural",
                          OutputFormat="mp3", Text="Hi.", VoiceId="Joanna")
        other_region = client(self.fake, region="us-west-2")
        self.assert_error("InvalidSignatureException", 403, other_region.synthesize_speech, Engine="neural",
                          OutputFormat="mp3", Text="Hi.", VoiceId="Joanna")
        status, headers, body = raw_request(
            self.fake, {"OutputFormat": "mp3", "Text": "Hi.", "VoiceId": "Joanna"}, timestamp="20200101T000000Z")
        self.assertEqual(status, 403)
        self.assertEqual(headers["x-amzn-ErrorType"].split(":")[0], "InvalidSignatureException")
        self.assertIn("Signature expired", json.loads(body)["message"])
        status, _, _ = raw_request(self.fake, {"OutputFormat": "mp3", "Text": "Hi.", "VoiceId": "Joanna"})
        self.assertEqual(status, 200)

    # ---- validation ----------------------------------------------------------------------
    def test_validation_errors(self):
        self.assert_error("ValidationException", 400, self.synth, VoiceId="Matthew", Engine="standard")
        self.assertIn("does not support the selected engine: standard", self.last()["error_message"])
        self.assert_error("ValidationException", 400, self.synth, VoiceId="Nobody")
        self.assert_error("ValidationException", 400, self.synth, Engine="turbo")
        self.assert_error("InvalidSampleRateException", 400, self.synth, OutputFormat="pcm", SampleRate="22050")
        self.assert_error("InvalidSampleRateException", 400, self.synth, SampleRate="11025")
        self.assert_error("TextLengthExceededException", 400, self.synth, Text="a" * 3001)
        self.synth(Text="a" * 3000)["AudioStream"].read()
        # 3000 billed characters inside SSML tags are fine (tags are not billed).
        self.synth(Text="<speak>" + "<s>" + "b" * 3000 + "</s></speak>", TextType="ssml")["AudioStream"].read()
        self.assert_error("InvalidSsmlException", 400, self.synth, Text="<speak>Q & A</speak>", TextType="ssml")
        self.assert_error("InvalidSsmlException", 400, self.synth, Text="<p>Hi</p>", TextType="ssml")
        self.assert_error("LexiconNotFoundException", 404, self.synth, LexiconNames=["missing"])
        self.synth(LexiconNames=["interviewTerms"])["AudioStream"].read()
        self.assert_error("LanguageNotSupportedException", 400, self.synth, LanguageCode="ko-KR")
        self.assert_error("MarksNotSupportedForFormatException", 400, self.synth, SpeechMarkTypes=["word"])

    def test_raw_body_validation(self):
        base = {"Engine": "neural", "OutputFormat": "mp3", "Text": "Hi.", "VoiceId": "Joanna"}
        cases = [
            (dict(base, LexiconNames=["a", "b", "c", "d", "e", "f"]), 400, "ValidationException"),
            (dict(base, LexiconNames=["bad-name"]), 400, "ValidationException"),
            (dict(base, SampleRate=24000), 400, "SerializationException"),
            ({"Engine": "neural", "OutputFormat": "mp3", "VoiceId": "Joanna"}, 400, "ValidationException"),
            (b"{not json", 400, "SerializationException"),
        ]
        for body, status, code in cases:
            got_status, headers, got_body = raw_request(self.fake, body)
            self.assertEqual((got_status, headers["x-amzn-ErrorType"].split(":")[0]), (status, code), body)
            self.assertTrue(headers["x-amzn-ErrorType"].endswith("/"))
            self.assertIn("message", json.loads(got_body))
            self.assertTrue(headers["x-amzn-RequestId"])

    # ---- faults --------------------------------------------------------------------------
    def test_faults_parse_as_polly_errors(self):
        self.assert_error("ThrottlingException", 400, self.synth, Text="Busy [[fake:throttle]]")
        self.assert_error("ServiceFailureException", 500, self.synth, Text="Broken [[fake:500]]")
        self.assert_error("AccessDeniedException", 400, self.synth, Text="Nope [[fake:access-denied]]")
        self.assert_error("ExpiredTokenException", 403, self.synth, Text="Old [[fake:expired-token]]")

    def test_once_faults_succeed_on_botocore_retry(self):
        polly = client(self.fake, attempts=3)
        for marker in ("throttle-once", "500-once"):
            text = f"Retry me [[fake:{marker}]]"
            response = polly.synthesize_speech(Engine="neural", OutputFormat="mp3", Text=text, VoiceId="Joanna")
            audio = response["AudioStream"].read()
            entries = [e for e in self.fake.requests() if e.get("body", {}).get("Text") == text]
            self.assertEqual([e["attempt"] for e in entries], [1, 2])
            self.assertEqual(entries[0]["status"], 400 if marker.startswith("throttle") else 500)
            self.assertEqual(entries[1]["status"], 200)
            self.assertEqual(audio, self.fake.served(entries[1]["seq"]))

    def test_cut_stream_fails_the_reader(self):
        for marker in ("cut-after=3000", "cut-after=3000,transfer=length", "reset-after=3000"):
            response = self.synth(Text=f"Cut me [[fake:{marker}]]")
            with self.assertRaises(Exception, msg=marker):
                response["AudioStream"].read()
            entry = self.last()
            self.assertEqual(entry["bytes_sent"], 3000)
            self.assertFalse(entry["complete"])

    def test_fail_next_from_the_control_endpoint(self):
        self.fake.config(fail_next=[{"fault": "throttle", "count": 1}, {"fault": "500", "count": 1}])
        self.assert_error("ThrottlingException", 400, self.synth, Text="Queued fault one.")
        self.assert_error("ServiceFailureException", 500, self.synth, Text="Queued fault two.")
        self.synth(Text="Queued faults are used up.")["AudioStream"].read()
        self.assertEqual(self.last()["status"], 200)

    # ---- DescribeVoices ------------------------------------------------------------------
    def test_describe_voices(self):
        voices = self.polly.describe_voices(Engine="standard")["Voices"]
        ids = {v["Id"] for v in voices}
        self.assertIn("Seoyeon", ids)
        self.assertIn("Mizuki", ids)
        self.assertNotIn("Matthew", ids)
        neural = self.polly.describe_voices(Engine="neural", LanguageCode="ko-KR")["Voices"]
        self.assertEqual({v["Id"] for v in neural}, {"Seoyeon", "Jihye"})
        self.assertTrue(self.last()["signature_valid"])
        self.assert_error("ValidationException", 400, self.polly.describe_voices, Engine="turbo")


def fake_polly_mp3(fake):
    return fake.args[fake.args.index("--mp3") + 1]


class FakeCredentialEndpoints(unittest.TestCase):
    """botocore's own IMDS and container fetchers accept the fake endpoints."""

    @classmethod
    def setUpClass(cls):
        cls.fake = FakePolly(extra_args=["--ecs-auth-token", "Bearer ecs-secret", "--cred-lifetime-s", "3600"])
        cls.fake.start()

    @classmethod
    def tearDownClass(cls):
        cls.fake.__exit__(None, None, None)

    def use(self, creds, text):
        polly = client(self.fake, creds["access_key"], creds["secret_key"], creds["token"])
        polly.synthesize_speech(Engine="neural", OutputFormat="mp3", Text=text, VoiceId="Joanna")["AudioStream"].read()
        return self.fake.requests()[-1]

    def test_imdsv2_with_botocore_fetcher(self):
        from botocore.utils import InstanceMetadataFetcher
        fetcher = InstanceMetadataFetcher(timeout=5, num_attempts=1, config={
            "ec2_metadata_service_endpoint": self.fake.metadata_url + "/"})
        creds = fetcher.retrieve_iam_role_credentials()
        self.assertTrue(creds["access_key"].startswith("ASIA"), creds.keys())
        entry = self.use(creds, "Via IMDS.")
        self.assertEqual((entry["status"], entry["credential_source"]), (200, "imds"))
        kinds = [(m["kind"], m["status"]) for m in self.fake.metadata()]
        self.assertIn(("imds-token", 200), kinds)
        self.assertIn(("imds-credentials", 200), kinds)
        # Without a token: 401.
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(self.fake.metadata_url + "/latest/meta-data/iam/security-credentials/",
                                   timeout=10)
        self.assertEqual(caught.exception.code, 401)
        # Expired temporary keys are refused with ExpiredTokenException.
        self.assertIn(creds["access_key"], self.fake.expire_credentials())
        polly = client(self.fake, creds["access_key"], creds["secret_key"], creds["token"])
        with self.assertRaises(ClientError) as caught:
            polly.synthesize_speech(Engine="neural", OutputFormat="mp3", Text="Late.", VoiceId="Joanna")
        self.assertEqual(caught.exception.response["Error"]["Code"], "ExpiredTokenException")

    def test_ecs_with_botocore_fetcher(self):
        from botocore.utils import ContainerMetadataFetcher
        fetcher = ContainerMetadataFetcher()
        url = self.fake.metadata_url + "/v2/credentials/interviewd-test"
        data = fetcher.retrieve_full_uri(url, headers={"Authorization": "Bearer ecs-secret"})
        self.assertTrue(data["Expiration"].endswith("Z"))
        entry = self.use({"access_key": data["AccessKeyId"], "secret_key": data["SecretAccessKey"],
                          "token": data["Token"]}, "Via ECS.")
        self.assertEqual((entry["status"], entry["credential_source"]), (200, "ecs"))
        with self.assertRaises(Exception):
            fetcher.retrieve_full_uri(url, headers={"Authorization": "Bearer wrong"})
        self.assertEqual(self.fake.metadata()[-1]["status"], 401)


if __name__ == "__main__":
    # botocore leaves pooled sockets open at exit: not a finding of these tests.
    unittest.main(verbosity=2, warnings="ignore")
