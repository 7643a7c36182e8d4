"""Shared pieces of the Polly end-to-end tests: the daemon against fake_polly.py, over WebSocket.

The e2e tests skip (exit 77) only when the tts_polly plugin is not built in IVD_BUILD_DIR.
"""

import asyncio
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import ivd_daemon as ivd  # noqa: E402
from fakepolly_harness import REGION, TEST_KEY_ID, TEST_SECRET, FakePolly, skip  # noqa: E402,F401


def require_plugin():
    if not os.environ.get("IVD_BUILD_DIR"):
        skip("IVD_BUILD_DIR is not set (run through ctest)")
    plugin = ivd.build_path("lib", "interviewd", "plugins", "tts_polly.so")
    if not os.path.exists(plugin):
        skip(f"the Polly plugin is not built ({plugin} missing)")


def clean_env(tmp_dir, **extra):
    """The test's environment without any AWS_* variable, HOME in tmp_dir (no ~/.aws), instance
    metadata disabled (unless extra says otherwise), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = tmp_dir
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(tmp_dir, "no-credentials")
    env["AWS_CONFIG_FILE"] = os.path.join(tmp_dir, "no-config")
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def static_env(tmp_dir, **extra):
    """clean_env with the fake's static test key in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
    values = {"AWS_ACCESS_KEY_ID": TEST_KEY_ID, "AWS_SECRET_ACCESS_KEY": TEST_SECRET}
    values.update(extra)
    return clean_env(tmp_dir, **values)


def polly_sections(fake, bank, backend="polly-neural", log_level="debug", **options):
    """Daemon config sections: `backend` against the fake, questions from `bank` (a path)."""
    section = {"endpoint": fake.url, "ca_file": fake.ca_file, "region": REGION,
               "connect_timeout_ms": "10000", "timeout_ms": "30000"}
    section.update({k: str(v) for k, v in options.items()})
    return {"tts": {"backend": backend}, f"tts.{backend}": section, "questions.file": {"path": bank},
            "log": {"level": log_level}}


def run(url, **kwargs):
    return asyncio.run(ivd.run_interview(url, **kwargs))


def requests_for(fake, text):
    """The fake's SynthesizeSpeech log entries whose Text was exactly `text`, oldest first."""
    return [e for e in fake.requests() if (e.get("body") or {}).get("Text") == text]


def served_audio(fake, entries):
    """The bytes the fake served for the successful, complete requests among `entries`, in order."""
    return b"".join(fake.served(e["seq"]) for e in entries if e["status"] == 200 and e.get("complete"))


def check_secrets_absent(testcase, fake, log, extra=()):
    """No secret key, session token (or other given secret) of the fake appears in `log`."""
    secrets = [k["secret_access_key"] for k in fake.keys()] + [k["session_token"] for k in fake.keys()
                                                               if k["session_token"]]
    secrets += list(extra)
    for secret in secrets:
        testcase.assertNotIn(secret, log, "a secret appears in the daemon's log")
        testcase.assertNotIn(secret[:16], log, "the start of a secret appears in the daemon's log")


def audio_records(daemon, session_id):
    return [r for r in daemon.records(session_id) if r["type"] == "audio"]


def write_text(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def write_json_bank(path, questions):
    """A JSON bank: list of (id, text, ssml)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump([{"id": i, "text": t, "ssml": s} for i, t, s in questions], f, ensure_ascii=False)
    return path
