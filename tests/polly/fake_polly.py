#!/usr/bin/python3
"""A faithful fake of Amazon Polly (HTTPS, SigV4-checked) plus fake IMDSv2 / ECS credential endpoints.

Run with Debian's /usr/bin/python3 (python3-aiohttp 3.8, python3-botocore 1.29).  See README.md
in this directory for the command line, the fault markers and the control endpoints.

    /usr/bin/python3 fake_polly.py --tls-dir /tmp/fakepolly --port 0 --port-file /tmp/fp.json \
        --mp3 build/share/interviewd/mock-audio/default.mp3

What it checks like the real service: the SigV4 signature (recomputed with botocore's SigV4Auth
over exactly the headers the client says it signed), the credential scope (date, region, service
`polly`, `aws4_request`), x-amz-date skew (5 minutes), the session token of temporary keys and
their expiry, and the SynthesizeSpeech body (required members, enums, voice/engine pairs,
SampleRate per format as a string, text length in billed characters, SSML well-formedness,
LexiconNames).  Errors use Polly's wire shape: status, `x-amzn-ErrorType: Code:namespace`,
`x-amzn-RequestId`, JSON body {"message": ...}.
"""

import argparse
import asyncio
import base64
import concurrent.futures
import datetime
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import socket
import ssl
import struct
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from mp3_format import frame_length, strip_id3  # noqa: E402

# x-amzn-ErrorType namespaces, as real AWS front ends and Polly send them.
NS_TTS = "http://internal.amazon.com/coral/com.amazonaws.tts/"
NS_AUTH = "http://internal.amazon.com/coral/com.amazon.coral.service/"
NS_VALIDATE = "http://internal.amazon.com/coral/com.amazon.coral.validate/"
NS_AVAILABILITY = "http://internal.amazon.com/coral/com.amazon.coral.availability/"

SIGV4_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW_S = 300
MAX_BILLED = 3000
MAX_TOTAL = 6000
ROLE_NAME = "interviewd-test-role"

ENGINES = ("standard", "neural", "long-form", "generative")
OUTPUT_FORMATS = ("json", "mp3", "ogg_opus", "ogg_vorbis", "pcm", "mulaw", "alaw")
CONTENT_TYPES = {
    "mp3": "audio/mpeg", "ogg_vorbis": "audio/ogg", "ogg_opus": "audio/ogg", "pcm": "audio/pcm",
    "mulaw": "audio/mulaw", "alaw": "audio/alaw", "json": "application/x-json-stream",
}
SAMPLE_RATES = {
    "mp3": ("8000", "16000", "22050", "24000", "44100", "48000"),
    "ogg_vorbis": ("8000", "16000", "22050", "24000", "44100", "48000"),
    "pcm": ("8000", "16000"), "ogg_opus": ("48000",), "mulaw": ("8000",), "alaw": ("8000",),
    "json": ("8000", "16000", "22050", "24000", "44100", "48000"),
}
SPEECH_MARK_TYPES = ("sentence", "ssml", "viseme", "word")
UNSUPPORTED_SSML_TAGS = ("audio", "lexicon", "lookup", "voice")

# A small voice table: (Id, Gender, LanguageCode, LanguageName, AdditionalLanguageCodes, engines).
VOICES = [
    ("Seoyeon", "Female", "ko-KR", "Korean", [], ["neural", "standard"]),
    ("Jihye", "Female", "ko-KR", "Korean", [], ["neural"]),
    ("Joanna", "Female", "en-US", "US English", [], ["generative", "neural", "standard"]),
    ("Matthew", "Male", "en-US", "US English", [], ["generative", "neural"]),
    ("Kevin", "Male", "en-US", "US English", [], ["neural"]),
    ("Ruth", "Female", "en-US", "US English", [], ["generative", "long-form", "neural"]),
    ("Aditi", "Female", "en-IN", "Indian English", ["hi-IN"], ["standard"]),
    ("Mizuki", "Female", "ja-JP", "Japanese", [], ["standard"]),
]
VOICE_BY_ID = {v[0]: v for v in VOICES}
ALL_VOICE_IDS = sorted(VOICE_BY_ID)

MARKER_RE = re.compile(r"\[\[fake:([^\]]*)\]\]")


def now_s():
    return time.time()


def iso8601(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_id():
    return str(uuid.uuid4())


# asyncio's timers fire up to a millisecond late (epoll's timeout is in whole milliseconds, rounded
# up), which a first-byte-latency benchmark would charge to the client; the last stretch of a delay
# is slept on a thread with the nanosecond clock instead.
_DELAY_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="delay")


async def sleep_until(deadline):
    """Sleep until time.monotonic() reaches deadline, within about 0.1 ms."""
    coarse = deadline - time.monotonic() - 0.003
    if coarse > 0:
        await asyncio.sleep(coarse)
    rest = deadline - time.monotonic()
    if rest > 0:
        await asyncio.get_running_loop().run_in_executor(_DELAY_THREADS, time.sleep, rest)


class AwsError(Exception):
    """An error answer in Polly's wire shape."""

    def __init__(self, status, code, message, namespace=NS_TTS):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.namespace = status, code, message, namespace

    def response(self, rid):
        return web.Response(
            status=self.status, text=json.dumps({"message": self.message}),
            headers={"x-amzn-ErrorType": f"{self.code}:{self.namespace}", "x-amzn-RequestId": rid,
                     "Content-Type": "application/json"})


def validation_error(message):
    return AwsError(400, "ValidationException", message, NS_VALIDATE)


def enum_error(value, member, allowed):
    return validation_error(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
                            f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]")


# ---- audio ------------------------------------------------------------------------------------

def mp3_frames(data):
    """The MPEG Layer III frames of `data`, without ID3 tags or bytes between frames."""
    data = strip_id3(data)
    frames, pos = [], 0
    while pos < len(data):
        length = frame_length(data, pos)
        if length and pos + length <= len(data):
            frames.append(data[pos:pos + length])
            pos += length
        else:
            pos += 1
    return frames


def text_hash(text):
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def pcm_audio(text, rate, billed):
    """Deterministic s16le mono: a tone whose pitch and length depend on the text."""
    freq = 220 + text_hash(text) % 440
    n = int(rate * min(8.0, 0.2 + 0.04 * billed))
    return b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(n))


def _ogg_crc(data):
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_audio(text, billed):
    """Deterministic Ogg pages (valid Ogg framing with CRCs; the payload is not real Vorbis)."""
    seed = hashlib.sha256(text.encode("utf-8")).digest()
    payload = b"\x01vorbis" + seed
    pages, serial = [], text_hash(text) & 0xFFFFFFFF
    n_pages = 2 + min(30, billed // 20)
    for seq in range(n_pages):
        if seq:
            payload = hashlib.sha256(payload).digest() * 8
        header_type = 2 if seq == 0 else 4 if seq == n_pages - 1 else 0
        segments = []
        left = len(payload)
        while left >= 255:
            segments.append(255)
            left -= 255
        segments.append(left)
        header = struct.pack("<4sBBqIIIB", b"OggS", 0, header_type, seq * 1024, serial, seq, 0, len(segments))
        page = bytearray(header + bytes(segments) + payload)
        struct.pack_into("<I", page, 22, _ogg_crc(page))
        pages.append(bytes(page))
    return b"".join(pages)


def speech_marks(text):
    return (json.dumps({"time": 0, "type": "sentence", "start": 0, "end": len(text.encode("utf-8")),
                        "value": text}) + "\n").encode("utf-8")


# ---- the fake ---------------------------------------------------------------------------------

class Key:
    def __init__(self, akid, secret, token=None, expires=None, source="static"):
        self.akid, self.secret, self.token, self.expires, self.source = akid, secret, token, expires, source


class ServerSigV4(SigV4Auth):
    """botocore's SigV4 computation over exactly the headers the client listed as signed."""

    def __init__(self, credentials, region, signed):
        super().__init__(credentials, "polly", region)
        self._signed = signed

    def headers_to_sign(self, request):
        return self._signed


def parse_faults(spec_list):
    """Fault spec strings ("throttle-once", "cut-after=4096", ...) into a dict."""
    faults = {}
    for spec in spec_list:
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            name, _, value = item.partition("=")
            faults[name.strip()] = value.strip()
    return faults


class Fake:
    def __init__(self, args):
        self.args = args
        self.region = args.region
        self.keys = {}
        for spec in args.key:
            parts = spec.split(":", 2)
            if len(parts) < 2:
                raise SystemExit(f"--key {spec!r}: expected AKID:SECRET[:TOKEN]")
            self.keys[parts[0]] = Key(parts[0], parts[1], parts[2] if len(parts) > 2 else None)
        self.lexicons = set(args.lexicon)
        self.config = {
            "transfer": args.transfer,
            "first_byte_delay_ms": args.first_byte_delay_ms,
            "pace_bps": args.pace_bps,
            "block_bytes": args.block_bytes,
            "cred_lifetime_s": args.cred_lifetime_s,
            "ecs_auth_token": args.ecs_auth_token,
            "ecs_path": args.ecs_path,
            "imds_v1": args.imds_v1,
            "vary_audio": not args.no_vary_audio,
            "fail_next": [],          # [{"fault": "throttle", "count": 1}]
        }
        with open(args.mp3, "rb") as f:
            self.mp3 = mp3_frames(f.read())
        if not self.mp3:
            raise SystemExit(f"--mp3 {args.mp3}: no MP3 frames found")
        self.requests = []
        self.served = {}
        self.metadata = []
        self.attempts = {}
        self.connections = {}
        self.imds_tokens = {}
        self.issued = 0

    # ---- bookkeeping ---------------------------------------------------------------------
    def connection_info(self, request):
        peer = request.transport.get_extra_info("peername") if request.transport else None
        key = (tuple(peer) if peer else None, id(request.protocol))
        info = self.connections.get(key)
        if info is None:
            info = self.connections[key] = {"id": len(self.connections) + 1, "requests": 0}
        info["requests"] += 1
        return info["id"], info["requests"] > 1

    def issue_credentials(self, source):
        self.issued += 1
        akid = f"ASIAFAKE{self.issued:04d}{secrets.token_hex(4).upper()}"
        secret = base64.b64encode(secrets.token_bytes(30)).decode()
        token = base64.b64encode(secrets.token_bytes(120)).decode()
        expires = now_s() + float(self.config["cred_lifetime_s"])
        key = Key(akid, secret, token, expires, source)
        self.keys[akid] = key
        return key

    def audio_for(self, fmt, text, rate, billed):
        if fmt == "mp3":
            frames = self.mp3
            count = len(frames)
            if self.config["vary_audio"] and count > 3:
                count -= text_hash(text) % (count // 3)
            return b"".join(frames[:count])
        if fmt == "pcm":
            return pcm_audio(text, int(rate), billed)
        if fmt in ("ogg_vorbis", "ogg_opus"):
            return ogg_audio(text, billed)
        if fmt == "json":
            return speech_marks(text)
        # mulaw / alaw: deterministic 8-bit bytes
        seed = hashlib.sha256(text.encode("utf-8")).digest()
        return (seed * (1 + 8000 // len(seed)))[:8000 + billed * 40]

    # ---- SigV4 ---------------------------------------------------------------------------
    def verify_sigv4(self, request, body, entry):
        """Raise AwsError unless the request is signed correctly with a known, valid key."""
        headers = request.headers
        auth = headers.get("Authorization")
        if not auth:
            raise AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token", NS_AUTH)
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise AwsError(403, "IncompleteSignatureException",
                           "Authorization header requires the 'AWS4-HMAC-SHA256' algorithm.", NS_AUTH)
        params = {}
        for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
            name, _, value = part.strip().partition("=")
            params[name] = value
        for name in ("Credential", "SignedHeaders", "Signature"):
            if not params.get(name):
                raise AwsError(403, "IncompleteSignatureException",
                               f"Authorization header requires '{name}' parameter.", NS_AUTH)
        scope = params["Credential"].split("/")
        if len(scope) != 5:
            raise AwsError(403, "IncompleteSignatureException",
                           "Credential must have exactly 5 slash-delimited elements, e.g. "
                           "keyid/date/region/service/term, got '" + params["Credential"] + "'", NS_AUTH)
        akid, scope_date, scope_region, scope_service, terminator = scope
        entry["access_key_id"] = akid
        signed = params["SignedHeaders"].split(";")
        entry["signed_headers"] = params["SignedHeaders"]
        amz_date = headers.get("X-Amz-Date")
        if not amz_date:
            raise AwsError(403, "IncompleteSignatureException",
                           "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
                           NS_AUTH)
        try:
            signed_at = datetime.datetime.strptime(amz_date, SIGV4_FORMAT).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise AwsError(403, "IncompleteSignatureException", f"Date must be in ISO-8601 'basic format'. "
                           f"Got '{amz_date}'.", NS_AUTH) from None
        key = self.keys.get(akid)
        if key is None:
            raise AwsError(403, "UnrecognizedClientException",
                           "The security token included in the request is invalid.", NS_AUTH)
        entry["credential_source"] = key.source
        token = headers.get("X-Amz-Security-Token")
        entry["has_session_token"] = token is not None
        if (key.token or None) != (token or None):
            raise AwsError(403, "UnrecognizedClientException",
                           "The security token included in the request is invalid.", NS_AUTH)
        if key.expires is not None and now_s() >= key.expires:
            entry["expired_key"] = True
            raise AwsError(403, "ExpiredTokenException", "The security token included in the request is expired",
                           NS_AUTH)
        if scope_date != amz_date[:8]:
            raise AwsError(403, "InvalidSignatureException",
                           f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                           f"HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.", NS_AUTH)
        if scope_region != self.region:
            raise AwsError(403, "InvalidSignatureException",
                           f"Credential should be scoped to a valid region, not '{scope_region}'. ", NS_AUTH)
        if scope_service != "polly":
            raise AwsError(403, "InvalidSignatureException",
                           "Credential should be scoped to correct service: 'polly'. ", NS_AUTH)
        if terminator != "aws4_request":
            raise AwsError(403, "InvalidSignatureException",
                           f"Credential should be scoped with a valid terminator: 'aws4_request', not "
                           f"'{terminator}'. ", NS_AUTH)
        now = datetime.datetime.now(datetime.timezone.utc)
        skew = (signed_at - now).total_seconds()
        if skew < -MAX_SKEW_S:
            raise AwsError(403, "InvalidSignatureException",
                           f"Signature expired: {amz_date} is now earlier than "
                           f"{(now - datetime.timedelta(seconds=MAX_SKEW_S)).strftime(SIGV4_FORMAT)} "
                           f"({now.strftime(SIGV4_FORMAT)} - 5 min.)", NS_AUTH)
        if skew > MAX_SKEW_S:
            raise AwsError(403, "InvalidSignatureException",
                           f"Signature not yet current: {amz_date} is still later than "
                           f"{(now + datetime.timedelta(seconds=MAX_SKEW_S)).strftime(SIGV4_FORMAT)} "
                           f"({now.strftime(SIGV4_FORMAT)} + 5 min.)", NS_AUTH)
        mismatch = AwsError(403, "InvalidSignatureException",
                            "The request signature we calculated does not match the signature you provided. "
                            "Check your AWS Secret Access Key and signing method. Consult the service "
                            "documentation for details.", NS_AUTH)
        if signed != sorted(set(signed)) or any(n != n.lower() for n in signed):
            raise mismatch
        if "host" not in signed:
            raise AwsError(403, "InvalidSignatureException", "'Host' must be a 'SignedHeader' in the "
                           "AWS Authorization.", NS_AUTH)
        if "x-amz-date" not in signed:
            raise AwsError(403, "InvalidSignatureException", "'X-Amz-Date' must be a 'SignedHeader' in the "
                           "AWS Authorization.", NS_AUTH)
        if token is not None and "x-amz-security-token" not in signed:
            raise AwsError(403, "InvalidSignatureException", "'X-Amz-Security-Token' must be a 'SignedHeader' "
                           "in the AWS Authorization.", NS_AUTH)
        signed_map = HTTPHeaders()
        for name in signed:
            values = headers.getall(name, [])
            if not values:
                raise mismatch
            for value in values:
                signed_map[name] = value
        claimed_sha = headers.get("X-Amz-Content-SHA256")
        if "x-amz-content-sha256" in signed and claimed_sha not in (hashlib.sha256(body).hexdigest(),
                                                                   "UNSIGNED-PAYLOAD"):
            raise AwsError(400, "InvalidSignatureException",
                           "The provided 'x-amz-content-sha256' header does not match what was computed.", NS_AUTH)
        aws_request = AWSRequest(method=request.method, url=f"https://{headers.get('Host', '')}{request.raw_path}",
                                 data=body)
        for name in signed:
            for value in headers.getall(name):
                aws_request.headers[name] = value
        aws_request.context["timestamp"] = amz_date
        signer = ServerSigV4(Credentials(akid, key.secret, key.token), self.region, signed_map)
        canonical = signer.canonical_request(aws_request)
        expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
        ok = hmac.compare_digest(expected, params["Signature"])
        entry["signature_valid"] = ok
        if not ok:
            entry["canonical_request"] = canonical
            raise mismatch

    # ---- SynthesizeSpeech validation ----------------------------------------------------
    @staticmethod
    def billed_characters(text, text_type):
        if text_type == "ssml":
            return len("".join(ET.fromstring(text).itertext()))
        return len(text)

    def validate(self, doc):
        """The validated parameters of a SynthesizeSpeech body, or AwsError."""
        if not isinstance(doc, dict):
            raise AwsError(400, "SerializationException", "Start of list found where not expected", NS_VALIDATE)
        missing = [m for m in ("OutputFormat", "Text", "VoiceId") if doc.get(m) is None]
        if missing:
            lower = {"OutputFormat": "outputFormat", "Text": "text", "VoiceId": "voiceId"}
            parts = [f"Value null at '{lower[m]}' failed to satisfy constraint: Member must not be null"
                     for m in missing]
            raise validation_error(f"{len(parts)} validation error{'s' if len(parts) > 1 else ''} detected: "
                                   + "; ".join(parts))
        for member in ("Engine", "LanguageCode", "OutputFormat", "SampleRate", "Text", "TextType", "VoiceId"):
            if member in doc and doc[member] is not None and not isinstance(doc[member], str):
                raise AwsError(400, "SerializationException",
                               f"{type(doc[member]).__name__.upper()}_VALUE can not be converted to a String "
                               f"(member {member})", NS_VALIDATE)
        engine = doc.get("Engine") or "standard"
        if engine not in ENGINES:
            raise enum_error(engine, "engine", ENGINES)
        fmt = doc["OutputFormat"]
        if fmt not in OUTPUT_FORMATS:
            raise enum_error(fmt, "outputFormat", OUTPUT_FORMATS)
        voice = doc["VoiceId"]
        if voice not in VOICE_BY_ID:
            raise enum_error(voice, "voiceId", ALL_VOICE_IDS)
        text_type = doc.get("TextType") or "text"
        if text_type not in ("text", "ssml"):
            raise enum_error(text_type, "textType", ("ssml", "text"))
        marks = doc.get("SpeechMarkTypes")
        if marks is not None:
            if not isinstance(marks, list) or len(marks) > 4 or any(m not in SPEECH_MARK_TYPES for m in marks):
                raise validation_error("1 validation error detected: Value at 'speechMarkTypes' failed to "
                                       "satisfy constraint: Member must have length less than or equal to 4 and "
                                       "members in [sentence, ssml, viseme, word]")
            if marks and fmt != "json":
                raise AwsError(400, "MarksNotSupportedForFormatException",
                               "Speech marks are only supported for the json output format")
            if "ssml" in marks and text_type != "ssml":
                raise AwsError(400, "SsmlMarksNotSupportedForTextTypeException",
                               "SSML speech marks are not supported for text type text")
        lexicons = doc.get("LexiconNames")
        if lexicons is not None:
            if not isinstance(lexicons, list) or len(lexicons) > 5:
                raise validation_error("1 validation error detected: Value at 'lexiconNames' failed to satisfy "
                                       "constraint: Member must have length less than or equal to 5")
            for name in lexicons:
                if not isinstance(name, str) or not re.fullmatch(r"[0-9A-Za-z]{1,20}", name):
                    raise validation_error(f"1 validation error detected: Value '{name}' at 'lexiconNames' "
                                           "failed to satisfy constraint: Member must satisfy regular expression "
                                           "pattern: [0-9A-Za-z]{1,20}")
        vid, _gender, lang, _lname, extra_langs, engines = VOICE_BY_ID[voice]
        if engine not in engines:
            raise validation_error(f"This voice does not support the selected engine: {engine}")
        language = doc.get("LanguageCode")
        if language is not None and language not in [lang] + extra_langs:
            raise AwsError(400, "LanguageNotSupportedException",
                           f"Language {language} is not supported by voice {vid}")
        rate = doc.get("SampleRate")
        if rate is None:
            rate = {"pcm": "16000", "ogg_opus": "48000", "mulaw": "8000", "alaw": "8000"}.get(
                fmt, "22050" if engine == "standard" else "24000")
        elif rate not in SAMPLE_RATES[fmt]:
            raise AwsError(400, "InvalidSampleRateException",
                           f"Invalid sample rate {rate} for output format {fmt}")
        text = doc["Text"]
        if text_type == "ssml":
            try:
                root = ET.fromstring(text)
            except ET.ParseError:
                raise AwsError(400, "InvalidSsmlException", "Invalid SSML request") from None
            if root.tag.rsplit("}", 1)[-1] != "speak":
                raise AwsError(400, "InvalidSsmlException", "Invalid SSML request")
            for element in root.iter():
                if element.tag.rsplit("}", 1)[-1] in UNSUPPORTED_SSML_TAGS:
                    raise AwsError(400, "InvalidSsmlException",
                                   f"Unsupported SSML feature: {element.tag.rsplit('}', 1)[-1]}")
        billed = self.billed_characters(text, text_type)
        if len(text) > MAX_TOTAL or billed > MAX_BILLED:
            raise AwsError(400, "TextLengthExceededException", "Maximum text length has been exceeded")
        if lexicons:
            for name in lexicons:
                if name not in self.lexicons:
                    raise AwsError(404, "LexiconNotFoundException",
                                   f"Lexicon not found: {name}")
        return {"engine": engine, "format": fmt, "voice": voice, "text_type": text_type, "sample_rate": rate,
                "text": text, "billed": billed, "language": language, "lexicons": lexicons or []}

    # ---- handlers ------------------------------------------------------------------------
    def new_entry(self, request, kind):
        conn, reused = self.connection_info(request)
        entry = {"seq": len(self.requests) + 1, "kind": kind, "time": now_s(), "method": request.method,
                 "path": request.path, "query": request.query_string, "access_key_id": None,
                 "signed_headers": None, "signature_valid": None, "has_session_token": False,
                 "credential_source": None, "connection": conn, "reused_connection": reused,
                 "request_id": request_id(), "status": None, "error": None, "content_type": None}
        self.requests.append(entry)
        return entry

    def take_fail_next(self):
        queue = self.config["fail_next"]
        while queue:
            head = queue[0]
            if head.get("count", 1) <= 0:
                queue.pop(0)
                continue
            head["count"] = head.get("count", 1) - 1
            return head["fault"]
        return None

    async def speech(self, request):
        arrived = time.monotonic()
        entry = self.new_entry(request, "SynthesizeSpeech")
        entry["first_byte_ms"] = None
        rid = entry["request_id"]
        try:
            body = await request.read()
            entry["content_type"] = request.headers.get("Content-Type")
            entry["user_agent"] = request.headers.get("User-Agent")
            try:
                doc = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                doc = None
            entry["body"] = doc  # logged even when the signature is refused
            self.verify_sigv4(request, body, entry)
            if doc is None:
                raise AwsError(400, "SerializationException", "Invalid JSON in request body", NS_VALIDATE)
            text = doc.get("Text") if isinstance(doc, dict) else None
            specs = MARKER_RE.findall(text) if isinstance(text, str) else []
            extra = self.take_fail_next()
            if extra:
                specs.append(extra)
            faults = parse_faults(specs)
            if isinstance(text, str) and specs:
                doc = dict(doc)
                doc["Text"] = MARKER_RE.sub("", text)
            entry["faults"] = faults
            key = text if isinstance(text, str) else ""
            attempt = self.attempts[key] = self.attempts.get(key, 0) + 1
            entry["attempt"] = attempt

            def failing(name):
                if name in faults:
                    return True
                if f"{name}-once" in faults:
                    return attempt == 1
                if f"{name}-times" in faults:
                    return attempt <= int(faults[f"{name}-times"] or 1)
                return False

            if failing("hang"):
                await asyncio.sleep(3600)
            if failing("throttle"):
                raise AwsError(400, "ThrottlingException", "Rate exceeded", NS_AVAILABILITY)
            if failing("access-denied"):
                raise AwsError(400, "AccessDeniedException",
                               "User: arn:aws:iam::123456789012:user/interviewd-test is not authorized to perform: "
                               "polly:SynthesizeSpeech because no identity-based policy allows the "
                               "polly:SynthesizeSpeech action", NS_AUTH)
            if failing("expired-token"):
                raise AwsError(403, "ExpiredTokenException", "The security token included in the request is expired",
                               NS_AUTH)
            params = self.validate(doc)
            entry.update({"engine": params["engine"], "voice": params["voice"], "output_format": params["format"],
                          "sample_rate": params["sample_rate"], "text_type": params["text_type"],
                          "text": params["text"], "billed": params["billed"], "language": params["language"],
                          "lexicons": params["lexicons"]})
            if failing("500"):
                raise AwsError(500, "ServiceFailureException", "Internal server error")
            if failing("503"):
                raise AwsError(503, "ServiceUnavailableException", "Service is unavailable", NS_AVAILABILITY)
            if failing("502"):
                entry["status"] = 502
                entry["error"] = "BadGateway"
                return web.Response(status=502, content_type="text/html",
                                    text="<html><body><h1>502 Bad Gateway</h1></body></html>\n")
            audio = self.audio_for(params["format"], params["text"], params["sample_rate"], params["billed"])
            return await self.stream(request, entry, audio, params, faults, arrived)
        except AwsError as err:
            entry["status"] = err.status
            entry["error"] = err.code
            entry["error_message"] = err.message
            return err.response(rid)

    async def stream(self, request, entry, audio, params, faults, arrived):
        cfg = self.config
        transfer = faults.get("transfer") or cfg["transfer"]
        delay_ms = float(faults.get("first-byte-delay") or cfg["first_byte_delay_ms"])
        pace = float(faults.get("pace") or cfg["pace_bps"])
        block = max(1, int(faults.get("block") or cfg["block_bytes"]))
        cut = int(faults["cut-after"]) if "cut-after" in faults else None
        reset = int(faults["reset-after"]) if "reset-after" in faults else None
        stall = int(faults["stall-after"]) if "stall-after" in faults else None
        stop = min(x for x in (cut, reset, stall, len(audio)) if x is not None)
        entry.update({"status": 200, "transfer": transfer, "audio_bytes": len(audio), "bytes_sent": 0,
                      "complete": False, "audio_sha256": hashlib.sha256(audio).hexdigest()})
        self.served[entry["seq"]] = audio
        headers = {"Content-Type": CONTENT_TYPES[params["format"]], "x-amzn-RequestId": entry["request_id"],
                   "x-amzn-RequestCharacters": str(params["billed"])}
        response = web.StreamResponse(status=200, headers=headers)
        if transfer == "length":
            response.content_length = len(audio)
        else:
            response.enable_chunked_encoding()
        # The delay runs from the request's arrival, so this fake's own checks (signature,
        # body) happen inside it, as a real service's do: a benchmark that subtracts the delay
        # then measures the client's overhead, not Python's.
        if delay_ms > 0:
            await sleep_until(arrived + delay_ms / 1000.0)
        await response.prepare(request)
        sent = 0
        while sent < stop:
            piece = audio[sent:min(stop, sent + block)]
            await response.write(piece)
            if sent == 0:
                entry["first_byte_ms"] = round((time.monotonic() - arrived) * 1000.0, 3)
            sent += len(piece)
            entry["bytes_sent"] = sent
            if pace > 0:
                await asyncio.sleep(len(piece) / pace)
        if sent < len(audio):
            await self.flush(request)
            if stall is not None and stall == stop:
                entry["stalled"] = True
                await asyncio.sleep(3600)
            if reset is not None and reset == stop:
                sock = request.transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                entry["cut"] = "reset"
                request.transport.abort()
            else:
                entry["cut"] = "close"
                request.transport.close()
            return response
        await response.write_eof()
        entry["complete"] = True
        return response

    @staticmethod
    async def flush(request):
        """Wait until what was written has left this process (bounded)."""
        transport = request.transport
        for _ in range(500):
            if transport is None or transport.is_closing() or transport.get_write_buffer_size() == 0:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)

    async def voices(self, request):
        entry = self.new_entry(request, "DescribeVoices")
        rid = entry["request_id"]
        try:
            body = await request.read()
            self.verify_sigv4(request, body, entry)
            fault = self.take_fail_next()
            if fault == "throttle":
                raise AwsError(400, "ThrottlingException", "Rate exceeded", NS_AVAILABILITY)
            if fault == "500":
                raise AwsError(500, "ServiceFailureException", "Internal server error")
            engine = request.query.get("Engine")
            if engine is not None and engine not in ENGINES:
                raise enum_error(engine, "engine", ENGINES)
            language = request.query.get("LanguageCode")
            include_extra = request.query.get("IncludeAdditionalLanguageCodes", "false").lower() == "true"
            result = []
            for vid, gender, lang, lname, extra, engines in VOICES:
                if engine and engine not in engines:
                    continue
                if language and language != lang and not (include_extra and language in extra):
                    continue
                voice = {"Gender": gender, "Id": vid, "LanguageCode": lang, "LanguageName": lname, "Name": vid,
                         "SupportedEngines": engines}
                if include_extra and extra:
                    voice["AdditionalLanguageCodes"] = extra
                result.append(voice)
            entry["status"] = 200
            entry["engine"] = engine
            return web.json_response({"Voices": result}, headers={"x-amzn-RequestId": rid})
        except AwsError as err:
            entry["status"], entry["error"], entry["error_message"] = err.status, err.code, err.message
            return err.response(rid)

    async def unknown(self, request):
        entry = self.new_entry(request, "Unknown")
        entry["status"] = 404
        entry["error"] = "UnknownOperationException"
        return AwsError(404, "UnknownOperationException", "", NS_AUTH).response(entry["request_id"])

    # ---- metadata (IMDSv2, ECS) ----------------------------------------------------------
    def meta_entry(self, request, kind, status, **extra):
        entry = {"seq": len(self.metadata) + 1, "time": now_s(), "kind": kind, "method": request.method,
                 "path": request.path, "status": status}
        entry.update(extra)
        self.metadata.append(entry)

    async def imds_token(self, request):
        ttl = request.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        if request.headers.get("X-Forwarded-For"):
            self.meta_entry(request, "imds-token", 403)
            return web.Response(status=403)
        try:
            ttl_s = int(ttl)
        except (TypeError, ValueError):
            ttl_s = 0
        if not 1 <= ttl_s <= 21600:
            self.meta_entry(request, "imds-token", 400)
            return web.Response(status=400)
        token = base64.urlsafe_b64encode(secrets.token_bytes(42)).decode()
        self.imds_tokens[token] = now_s() + ttl_s
        self.meta_entry(request, "imds-token", 200, ttl=ttl_s)
        return web.Response(text=token, headers={"X-aws-ec2-metadata-token-ttl-seconds": str(ttl_s)})

    def imds_authorized(self, request):
        token = request.headers.get("X-aws-ec2-metadata-token")
        if token is None:
            return bool(self.config["imds_v1"])
        expires = self.imds_tokens.get(token)
        return expires is not None and now_s() < expires

    async def imds_roles(self, request):
        if not self.imds_authorized(request):
            self.meta_entry(request, "imds-role", 401)
            return web.Response(status=401)
        self.meta_entry(request, "imds-role", 200)
        return web.Response(text=ROLE_NAME)

    async def imds_credentials(self, request):
        if not self.imds_authorized(request):
            self.meta_entry(request, "imds-credentials", 401)
            return web.Response(status=401)
        if request.match_info["role"] != ROLE_NAME:
            self.meta_entry(request, "imds-credentials", 404)
            return web.Response(status=404)
        key = self.issue_credentials("imds")
        self.meta_entry(request, "imds-credentials", 200, access_key_id=key.akid, expiration=key.expires)
        return web.Response(text=json.dumps({
            "Code": "Success", "LastUpdated": iso8601(now_s()), "Type": "AWS-HMAC", "AccessKeyId": key.akid,
            "SecretAccessKey": key.secret, "Token": key.token, "Expiration": iso8601(key.expires)}, indent=2),
            content_type="text/plain")

    async def ecs_credentials(self, request):
        if request.path != self.config["ecs_path"]:
            self.meta_entry(request, "ecs", 404)
            return web.Response(status=404)
        required = self.config["ecs_auth_token"]
        given = request.headers.get("Authorization")
        if required and given != required:
            self.meta_entry(request, "ecs", 401, authorization_given=given is not None)
            return web.json_response({"code": "AccessDeniedException",
                                      "message": "Invalid authorization token"}, status=401)
        key = self.issue_credentials("ecs")
        self.meta_entry(request, "ecs", 200, access_key_id=key.akid, expiration=key.expires,
                        authorization_given=given is not None)
        return web.json_response({"AccessKeyId": key.akid, "SecretAccessKey": key.secret, "Token": key.token,
                                  "Expiration": iso8601(key.expires),
                                  "RoleArn": f"arn:aws:iam::123456789012:role/{ROLE_NAME}"})

    # ---- control -------------------------------------------------------------------------
    async def ctl_requests(self, request):
        return web.json_response({"requests": self.requests})

    async def ctl_metadata(self, request):
        return web.json_response({"requests": self.metadata})

    async def ctl_served(self, request):
        audio = self.served.get(int(request.match_info["seq"]))
        if audio is None:
            return web.Response(status=404)
        return web.Response(body=audio, content_type="application/octet-stream")

    async def ctl_config(self, request):
        if request.method == "POST":
            update = await request.json()
            for name, value in update.items():
                if name not in self.config:
                    return web.json_response({"message": f"unknown config key {name}"}, status=400)
                self.config[name] = value
        return web.json_response(self.config)

    async def ctl_reset(self, request):
        self.requests.clear()
        self.served.clear()
        self.metadata.clear()
        self.attempts.clear()
        self.config["fail_next"] = []
        return web.json_response({"reset": True})

    async def ctl_expire(self, request):
        expired = []
        for key in self.keys.values():
            if key.expires is not None and key.expires > now_s():
                key.expires = now_s()
                expired.append(key.akid)
        return web.json_response({"expired": expired})

    async def ctl_keys(self, request):
        if request.method == "POST":
            doc = await request.json()
            expires = doc.get("expires_in_s")
            self.keys[doc["access_key_id"]] = Key(doc["access_key_id"], doc["secret_access_key"],
                                                  doc.get("session_token"),
                                                  now_s() + float(expires) if expires is not None else None,
                                                  doc.get("source", "static"))
        # Secrets are listed on purpose: tests check that they never reach the daemon's log.
        return web.json_response({"keys": [{"access_key_id": k.akid, "secret_access_key": k.secret,
                                            "session_token": k.token, "source": k.source, "expires": k.expires}
                                           for k in self.keys.values()]})


def control_routes(fake):
    return [
        web.get("/_fake/requests", fake.ctl_requests),
        web.get("/_fake/metadata", fake.ctl_metadata),
        web.get("/_fake/served/{seq}", fake.ctl_served),
        web.get("/_fake/config", fake.ctl_config),
        web.post("/_fake/config", fake.ctl_config),
        web.post("/_fake/reset", fake.ctl_reset),
        web.post("/_fake/expire-credentials", fake.ctl_expire),
        web.get("/_fake/keys", fake.ctl_keys),
        web.post("/_fake/keys", fake.ctl_keys),
    ]


def ensure_certificates(tls_dir):
    cert, key, ca = (os.path.join(tls_dir, n) for n in ("server.pem", "server.key", "ca.pem"))
    if not (os.path.exists(cert) and os.path.exists(key) and os.path.exists(ca)):
        subprocess.run([os.path.join(HERE, "make_test_ca.sh"), tls_dir], check=True)
    return cert, key, ca


async def serve(args):
    fake = Fake(args)
    cert, key, ca = ensure_certificates(args.tls_dir)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)

    polly = web.Application(client_max_size=1024 * 1024)
    polly.add_routes([web.post("/v1/speech", fake.speech), web.get("/v1/voices", fake.voices)]
                     + control_routes(fake) + [web.route("*", "/{tail:.*}", fake.unknown)])
    meta = web.Application()
    meta.add_routes([
        web.put("/latest/api/token", fake.imds_token),
        web.get("/latest/meta-data/iam/security-credentials/", fake.imds_roles),
        web.get("/latest/meta-data/iam/security-credentials/{role}", fake.imds_credentials),
    ] + control_routes(fake) + [web.get("/{tail:.*}", fake.ecs_credentials)])

    runners = []
    ports = []
    for app, port, context in ((polly, args.port, tls), (meta, args.metadata_port, None)):
        runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=75)
        await runner.setup()
        site = web.TCPSite(runner, args.host, port, ssl_context=context, reuse_address=True)
        await site.start()
        runners.append(runner)
        ports.append(site._server.sockets[0].getsockname()[1])
    info = {"polly_port": ports[0], "metadata_port": ports[1],
            "polly_url": f"https://{args.host}:{ports[0]}", "metadata_url": f"http://{args.host}:{ports[1]}",
            "ca_file": os.path.abspath(ca), "region": args.region, "pid": os.getpid()}
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, args.port_file)
    print(f"fake-polly ready: polly {info['polly_url']} metadata {info['metadata_url']} "
          f"ca {info['ca_file']} region {args.region}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (2, 15):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fake Amazon Polly (HTTPS, SigV4) with fake IMDSv2/ECS.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="HTTPS port for Polly (0: any free port)")
    parser.add_argument("--metadata-port", type=int, default=0,
                        help="plain HTTP port for the IMDSv2 and ECS credential endpoints (0: any)")
    parser.add_argument("--port-file", help="write {polly_port, metadata_port, ca_file, ...} here as JSON")
    parser.add_argument("--tls-dir", required=True,
                        help="directory with ca.pem, server.pem, server.key (made with make_test_ca.sh if absent)")
    parser.add_argument("--mp3", required=True, help="MP3 file served for OutputFormat mp3 (ID3 tags stripped)")
    parser.add_argument("--region", default="us-east-1", help="the only region this endpoint accepts")
    parser.add_argument("--key", action="append", default=[],
                        help="a valid key AKID:SECRET[:SESSION_TOKEN] (repeatable)")
    parser.add_argument("--lexicon", action="append", default=[], help="an existing lexicon name (repeatable)")
    parser.add_argument("--transfer", choices=("chunked", "length"), default="chunked")
    parser.add_argument("--first-byte-delay-ms", type=float, default=0)
    parser.add_argument("--pace-bps", type=float, default=0, help="audio bytes per second (0: as fast as possible)")
    parser.add_argument("--block-bytes", type=int, default=4096, help="bytes per write")
    parser.add_argument("--cred-lifetime-s", type=float, default=21600,
                        help="lifetime of credentials issued by the IMDS / ECS endpoints")
    parser.add_argument("--ecs-path", default="/v2/credentials/interviewd-test")
    parser.add_argument("--ecs-auth-token", default="", help="Authorization value the ECS endpoint requires")
    parser.add_argument("--imds-v1", action="store_true", help="also answer metadata requests without a token")
    parser.add_argument("--no-vary-audio", action="store_true",
                        help="always serve the whole MP3 (default: a text-dependent number of its frames)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
