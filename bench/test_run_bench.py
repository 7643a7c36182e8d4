"""ctest bench.run_script: bench/run-bench.sh, as docs/performance.md runs it, still works end to end.

Runs the script twice with two sessions of two questions: against the mock, and against the fake
Polly over HTTPS (the Polly benchmark path). No timing assertions: the script must exit 0, report
every session complete with no error, the daemon's memory and clean exit, and for Polly the fake's
own request count and interviewd's share of the first-byte wait."""

import os
import re
import subprocess
import sys

SOURCE = os.environ["IVD_SOURCE_DIR"]
BUILD = os.environ["IVD_BUILD_DIR"]
SCRIPT = os.path.join(SOURCE, "bench", "run-bench.sh")


def run(*args):
    proc = subprocess.run(["bash", SCRIPT, "--build", BUILD, "--sessions", "2", "--questions", "2",
                           "--timeout-s", "120", *args],
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"run-bench.sh {' '.join(args)} exited {proc.returncode}\n{out}"
    assert "connected 2, completions 2, questions ended 4 (4 with audio)" in out, out
    assert "errors: 0" in out, out
    assert re.search(r"peak RSS \(VmHWM\) [0-9]+ KiB", out), out
    assert "exit status 0 after SIGTERM; 0 warn/error log lines" in out, out
    return out


def main():
    run()
    if not os.path.exists(os.path.join(SOURCE, "tests", "polly", "fake_polly.py")):
        print("ok: mock (fake Polly absent)")
        return
    out = run("--backend", "polly-neural", "--delay-ms", "20")
    # 4 questions, each one SynthesizeSpeech request; the session's second request reuses a connection.
    match = re.search(r"fake Polly: ([0-9]+) requests, ([0-9]+) on a reused", out)
    assert match and int(match.group(1)) == 4 and int(match.group(2)) >= 2, out
    assert re.search(r"client next_question_from_question_start minus the 20 ms delay: p50 -?[0-9.]+ ms", out), out
    assert "less the fake's p50" in out, out
    print("ok: mock and polly-neural runs complete")


if __name__ == "__main__":
    sys.exit(main())
