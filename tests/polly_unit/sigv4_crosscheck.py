#!/usr/bin/python3
"""Cross-check: the Polly plugin's SigV4 signer (sigv4_sign_cli) against botocore's SigV4Auth.

Usage: /usr/bin/python3 sigv4_crosscheck.py PATH/TO/sigv4_sign_cli
Signs several Polly-like requests with both and compares the Authorization headers.
Needs python3-botocore (Debian package); run with /usr/bin/python3.
"""
import datetime
import json
import subprocess
import sys
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FROZEN = datetime.datetime(2026, 3, 14, 9, 26, 53)
AMZ_DATE = FROZEN.strftime("%Y%m%dT%H%M%SZ")


class FrozenDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return FROZEN

    @classmethod
    def now(cls, tz=None):
        return FROZEN if tz is None else FROZEN.replace(tzinfo=tz)


def botocore_sign(method, url, region, service, headers, body, creds):
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    with mock.patch.object(botocore.auth.datetime, "datetime", FrozenDatetime):
        botocore.auth.SigV4Auth(creds, service, region).add_auth(request)
    return request.headers["Authorization"]


def cli_sign(cli, method, url, region, service, headers, body, creds):
    args = [cli, "--method", method, "--url", url, "--region", region, "--service", service,
            "--date", AMZ_DATE, "--access-key", creds.access_key, "--secret-key", creds.secret_key]
    if creds.token:
        args += ["--token", creds.token]
    for name, value in headers:
        args += ["--header", "%s: %s" % (name, value)]
    if body is not None:
        args.append("--body-stdin")
    out = subprocess.run(args, input=body if body is not None else b"", capture_output=True, check=True)
    return out.stdout.decode().strip()


def polly_body(text, **extra):
    body = {"Engine": "neural", "OutputFormat": "mp3", "SampleRate": "24000", "Text": text,
            "TextType": "text", "VoiceId": "Seoyeon"}
    body.update(extra)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    cli = sys.argv[1]
    static = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    session = Credentials("ASIAEXAMPLETEMP", "tempSecretKey/with+slashes=", "FwoGZXIvYXdzEXAMPLETOKEN//+/==")
    json_ct = [("Content-Type", "application/json")]
    cases = [
        ("POST Korean text", "POST", "https://polly.ap-northeast-2.amazonaws.com/v1/speech", "ap-northeast-2",
         json_ct, polly_body("안녕하세요. 자기소개를 해 주세요!"), static),
        ("POST with session token", "POST", "https://polly.ap-northeast-2.amazonaws.com/v1/speech",
         "ap-northeast-2", json_ct, polly_body("Tell me about a project you led."), session),
        ("POST SSML, quotes, newline, lexicons", "POST", "https://polly.us-east-1.amazonaws.com/v1/speech",
         "us-east-1", json_ct,
         polly_body('<speak><prosody rate="90%">Tom &amp; "Jerry"\n다음 질문입니다.</prosody></speak>',
                    TextType="ssml", LexiconNames=["tech", "names"], LanguageCode="ko-KR"), session),
        ("POST to a test endpoint with a port", "POST", "https://127.0.0.1:8443/v1/speech", "ap-northeast-2",
         json_ct, polly_body("포트가 있는 엔드포인트"), static),
        ("GET DescribeVoices with a query", "GET",
         "https://polly.ap-northeast-2.amazonaws.com/v1/voices?Engine=neural&IncludeAdditionalLanguageCodes=true",
         "ap-northeast-2", [], None, session),
        ("GET with an encoded NextToken", "GET",
         "https://polly.eu-west-1.amazonaws.com/v1/voices?NextToken=abc%2Fdef%2Bghi%3D%3D&Engine=standard",
         "eu-west-1", [], None, static),
    ]
    failures = 0
    for name, method, url, region, headers, body, creds in cases:
        expected = botocore_sign(method, url, region, "polly", headers, body, creds)
        got = cli_sign(cli, method, url, region, "polly", headers, body, creds)
        status = "ok" if got == expected else "MISMATCH"
        print("%-40s %s" % (name, status))
        if got != expected:
            failures += 1
            print("  botocore: %s\n  plugin:   %s" % (expected, got))
    # The fixed Polly vector from the project's reference notes (botocore, 2015-08-30T12:36:00Z).
    vector_body = '{"Engine":"neural","OutputFormat":"mp3","Text":"안녕하세요","VoiceId":"Seoyeon"}'.encode()
    args = [cli, "--method", "POST", "--url", "https://polly.ap-northeast-2.amazonaws.com/v1/speech",
            "--region", "ap-northeast-2", "--service", "polly", "--date", "20150830T123600Z",
            "--access-key", "AKIDEXAMPLE", "--secret-key", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "--header", "Content-Type: application/json", "--body-stdin"]
    got = subprocess.run(args, input=vector_body, capture_output=True, check=True).stdout.decode()
    vector_ok = "Signature=3f943e5dd10e78c27f35ffcd8fb3329ecaa9712417840f52698dffdec067c2b4" in got
    print("%-40s %s" % ("fixed Polly vector", "ok" if vector_ok else "MISMATCH: " + got.strip()))
    failures += 0 if vector_ok else 1
    if failures:
        print("%d mismatch(es)" % failures)
        return 1
    print("all %d requests signed identically" % (len(cases) + 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
