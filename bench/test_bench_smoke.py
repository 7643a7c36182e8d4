"""ctest bench.smoke: ivd_bench drives 3 complete interviews against a real daemon and says so.

No timing assertions: only that ivd_bench exits 0, reports 3 completions and no errors, and that
its numbers agree with what the daemon recorded (every question asked got audio, every answer
before the last question was written to the records)."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("IVD_SOURCE_DIR", ""), "tests", "lib"))
from ivd_daemon import Daemon, build_path, data_path, read_bank  # noqa: E402

SESSIONS = 3


def main():
    questions = read_bank(data_path("questions-en.txt"))
    with Daemon() as daemon:
        proc = subprocess.run(
            [build_path("bin", "ivd_bench"), "--url", daemon.url, "--sessions", str(SESSIONS),
             "--answer", "smoke answer", "--timeout-s", "120", "--daemon-pid", str(daemon.pid),
             "--json", "--quiet"],
            capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, \
            f"ivd_bench exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}\n{daemon.log()}"
        result = json.loads(proc.stdout)
        assert result["completions"] == SESSIONS, result
        assert result["errors_total"] == 0, result["errors"]
        assert result["questions_ended"] == SESSIONS * len(questions), result
        assert result["questions_with_audio"] == SESSIONS * len(questions), result
        assert result["answers_sent"] == SESSIONS * len(questions), result
        latency = result["first_audio_latency"]
        assert latency["first_question_from_upgrade"]["count"] == SESSIONS, latency
        assert latency["next_question_from_answer"]["count"] == SESSIONS * (len(questions) - 1), latency
        assert result["audio_bytes"] > 0, result
        assert result["daemon_memory_kib"]["hwm_end"] > 0, result
        # The daemon saw the same thing: one session directory per session, each completed.
        sessions = os.listdir(daemon.records_dir)
        assert len(sessions) == SESSIONS, sessions
        for session_id in sessions:
            records = daemon.closed_records(session_id)
            answers = [r for r in records if r["type"] == "answer"]
            assert len(answers) == len(questions), records
        daemon.stop_clean()
    print(f"ok: {SESSIONS} sessions completed, {result['audio_bytes']} audio bytes")


if __name__ == "__main__":
    main()
