#!/bin/bash
# run-bench.sh: start interviewd with a benchmark config, drive it with ivd_bench, report latency and memory.
#
# usage: bench/run-bench.sh [options] [-- extra ivd_bench options]
#   --build DIR          build tree holding bin/interviewd, bin/ivd_bench, the plugins and
#                        share/interviewd (default: $IVD_BUILD_DIR, else <source>/build)
#   --sessions N         concurrent sessions (default 100)
#   --ramp-ms MS         spread the connects over MS milliseconds (default 0: all at once)
#   --questions N        questions per session (default: the whole sample bank)
#   --idle-hold-s S      idle-memory mode: each session takes its first question, then holds the
#                        connection; once all do, memory is sampled for S seconds
#   --think-ms MS        each client waits MS after question_end before answering (default 0:
#                        answers at once, a saturation test)
#   --repeat-bank K      ask the sample bank's questions K times over (more samples per session)
#   --timeout-s S        ivd_bench gives up after S seconds (default 600)
#   --backend B          mock (default) or polly-neural / polly-standard against
#                        tests/polly/fake_polly.py (needs /usr/bin/python3 with aiohttp, botocore)
#   --delay-ms MS        provider first-byte delay: [tts.mock] first_byte_delay_ms, or the fake
#                        Polly's --first-byte-delay-ms (default 0)
#   --records-dir DIR    parent of the records directory (default: the run's temporary directory;
#                        e.g. /dev/shm to take the disk's fsync time out of the measurement)
#   --workers N          [limits] workers (default: the daemon's default)
#   --log-level L        [log] level of the daemon (default info, the daemon default; the `listening` line is at info)
#   --out DIR            keep the run's files here (config, daemon log, result.json); default: a
#                        temporary directory removed at the end
#   --keep               keep the temporary directory
# Prints ivd_bench's report, the daemon's peak RSS (VmHWM) and its exit status; exits with
# ivd_bench's status (0: every session completed without error), or 1 if the daemon failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(dirname "$here")
build=${IVD_BUILD_DIR:-$source_dir/build}
sessions=100
ramp_ms=0
questions=
idle_hold_s=
timeout_s=600
think_ms=0
repeat_bank=1
backend=mock
delay_ms=0
workers=
records_parent=
log_level=info
out=
keep=0
extra=()
python=/usr/bin/python3

die() { echo "run-bench.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--sessions) sessions=$2; shift 2 ;;
	--ramp-ms) ramp_ms=$2; shift 2 ;;
	--questions) questions=$2; shift 2 ;;
	--idle-hold-s) idle_hold_s=$2; shift 2 ;;
	--timeout-s) timeout_s=$2; shift 2 ;;
	--think-ms) think_ms=$2; shift 2 ;;
	--repeat-bank) repeat_bank=$2; shift 2 ;;
	--backend) backend=$2; shift 2 ;;
	--delay-ms) delay_ms=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--records-dir) records_parent=$2; shift 2 ;;
	--log-level) log_level=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--) shift; extra=("$@"); break ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
done
case "$backend" in mock|polly-neural|polly-standard) ;; *) die "--backend must be mock, polly-neural or polly-standard" ;; esac
build=$(cd "$build" && pwd) || die "no build directory $build"
interviewd=$build/bin/interviewd
bench=$build/bin/ivd_bench
[ -x "$interviewd" ] || die "no $interviewd (build first)"
[ -x "$bench" ] || die "no $bench (build with -DIVD_BUILD_BENCH=ON)"

if [ -n "$out" ]; then
	mkdir -p "$out"
	tmp=$(cd "$out" && pwd)
	keep=1
else
	tmp=$(mktemp -d /tmp/ivd-bench.XXXXXX)
fi
daemon_pid=
fake_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null || true
	[ -n "$fake_pid" ] && kill -TERM "$fake_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	if [ -n "$records_parent" ] && [ -n "${records:-}" ]; then
		rm -rf "$records"
	fi
	if [ "$keep" = 1 ]; then
		echo "run-bench.sh: files kept in $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

# The daemon holds 3 fds per session (socket, record directory, session.jsonl), one more while it
# synthesizes (the mock's audio file, Polly's HTTPS socket) or stores an audio answer; the client
# one per session.  The daemon raises its own soft limit to 5 per session, but only up to the hard
# limit, and the client needs its share too: raise it here for both processes.
want_fds=$((sessions * 5 + 1024))
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge "$want_fds" ]; then
	ulimit -n "$want_fds" 2>/dev/null || true
else
	ulimit -n "$hard"
fi
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$want_fds" ] ||
	echo "run-bench.sh: warning: ulimit -n is $(ulimit -n), below the $want_fds wanted" >&2

# ---- the fake Polly -------------------------------------------------------------------------
polly_env=()
if [ "$backend" != mock ]; then
	fake=$source_dir/tests/polly/fake_polly.py
	[ -f "$fake" ] || die "no $fake"
	key_id=AKIDFAKEPOLLYBENCH01
	secret=benchSecret/K7MDENG+bPxRfiCYFAKEPOLLYKEY
	"$python" "$fake" --tls-dir "$tmp/tls" --port-file "$tmp/fake-polly.json" \
		--mp3 "$build/share/interviewd/mock-audio/default.mp3" --region ap-northeast-2 \
		--key "$key_id:$secret" --first-byte-delay-ms "$delay_ms" \
		>"$tmp/fake-polly.log" 2>&1 &
	fake_pid=$!
	for _ in $(seq 600); do
		[ -s "$tmp/fake-polly.json" ] && break
		kill -0 "$fake_pid" 2>/dev/null || { cat "$tmp/fake-polly.log" >&2; die "fake_polly.py exited"; }
		sleep 0.1
	done
	[ -s "$tmp/fake-polly.json" ] || die "fake_polly.py not ready in 60 s"
	polly_url=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["polly_url"])' "$tmp/fake-polly.json")
	polly_ca=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca_file"])' "$tmp/fake-polly.json")
	polly_env=(AWS_ACCESS_KEY_ID="$key_id" AWS_SECRET_ACCESS_KEY="$secret"
		AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null)
fi

records=$tmp/records
if [ -n "$records_parent" ]; then
	records=$(mktemp -d "$records_parent/ivd-bench-records.XXXXXX")
fi

# ---- the question bank: the English sample, K times over -----------------------------------------
bank=$build/share/interviewd/questions-en.txt
[ -f "$bank" ] || die "no $bank"
if [ "$repeat_bank" != 1 ]; then
	for _ in $(seq "$repeat_bank"); do grep -v -e '^#' -e '^[[:space:]]*$' "$bank"; done >"$tmp/bank.txt"
	bank=$tmp/bank.txt
fi

# ---- the daemon -------------------------------------------------------------------------------
config=$tmp/interviewd.ini
{
	echo "[server]"
	echo "listen = 127.0.0.1"
	echo "port = 0"
	echo "[plugins]"
	echo "directory = $build/lib/interviewd/plugins"
	echo "[tts]"
	echo "backend = $backend"
	echo "[tts.mock]"
	echo "audio_dir = $build/share/interviewd/mock-audio"
	echo "first_byte_delay_ms = $([ "$backend" = mock ] && echo "$delay_ms" || echo 0)"
	echo "pace = none"
	if [ "$backend" != mock ]; then
		echo "[tts.$backend]"
		echo "endpoint = $polly_url"
		echo "ca_file = $polly_ca"
		echo "region = ap-northeast-2"
		echo "voice = Joanna"
	fi
	echo "[questions]"
	echo "source = file"
	echo "[questions.file]"
	echo "path = $bank"
	echo "[records]"
	echo "directory = $records"
	echo "[limits]"
	echo "max_sessions = $((sessions + 100))"
	[ -n "$workers" ] && echo "workers = $workers"
	echo "[log]"
	echo "level = $log_level"
} >"$config"

env "${polly_env[@]}" "$interviewd" --config "$config" </dev/null >/dev/null 2>"$tmp/daemon.log" &
daemon_pid=$!
url=
for _ in $(seq 600); do
	url=$(grep -o 'listening on ws://[^ ]*' "$tmp/daemon.log" | head -1 | cut -d' ' -f3) || true
	[ -n "$url" ] && break
	kill -0 "$daemon_pid" 2>/dev/null || { cat "$tmp/daemon.log" >&2; die "interviewd exited"; }
	sleep 0.1
done
[ -n "$url" ] || { cat "$tmp/daemon.log" >&2; die "interviewd did not listen in 60 s"; }

# ---- the benchmark ----------------------------------------------------------------------------
args=(--url "$url" --sessions "$sessions" --ramp-ms "$ramp_ms" --think-ms "$think_ms"
	--timeout-s "$timeout_s" --daemon-pid "$daemon_pid" --json)
[ -n "$questions" ] && args+=(--questions "$questions")
[ -n "$idle_hold_s" ] && args+=(--idle-hold-s "$idle_hold_s")
args+=("${extra[@]}")

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); backend $backend, delay ${delay_ms} ms; ulimit -n $(ulimit -n)"
echo "== $bench ${args[*]}"
bench_rc=0
"$bench" "${args[@]}" >"$tmp/result.json" 2>"$tmp/bench.txt" || bench_rc=$?
cat "$tmp/bench.txt"

status=$(cat "/proc/$daemon_pid/status" 2>/dev/null || true)
hwm=$(echo "$status" | awk '/^VmHWM:/ {print $2}')
rss=$(echo "$status" | awk '/^VmRSS:/ {print $2}')
threads=$(echo "$status" | awk '/^Threads:/ {print $2}')
# utime and stime (fields 14 and 15 of /proc/PID/stat, after the parenthesized command name)
cpu=$(sed 's/^.*) //' "/proc/$daemon_pid/stat" 2>/dev/null |
	awk -v hz="$(getconf CLK_TCK)" '{printf "user %.2f s, system %.2f s", $12 / hz, $13 / hz}') || true
kill -TERM "$daemon_pid"
daemon_rc=0
wait "$daemon_pid" || daemon_rc=$?
daemon_pid=
warnings=$(grep -c -E ' (warn|error) ' "$tmp/daemon.log" || true)
echo "== daemon: peak RSS (VmHWM) ${hwm:-?} KiB, RSS at end ${rss:-?} KiB, ${threads:-?} threads, CPU ${cpu:-?}"
echo "== daemon: exit status $daemon_rc after SIGTERM; $warnings warn/error log lines"
if [ "$warnings" != 0 ]; then
	grep -E ' (warn|error) ' "$tmp/daemon.log" | sort -k3 | uniq -c -f2 | head -10
fi
if [ "$backend" != mock ]; then
	# The fake's own time from a request's arrival to its first audio block is part of what the
	# client waits; it is reported so that interviewd's share can be read apart from Python's.
	"$python" - "$tmp/result.json" "$delay_ms" "$polly_url" "$polly_ca" <<'PY'
import json, ssl, sys, urllib.request
r = json.load(open(sys.argv[1])); d = float(sys.argv[2])
ctx = ssl.create_default_context(cafile=sys.argv[4])
reqs = json.load(urllib.request.urlopen(sys.argv[3] + "/_fake/requests", context=ctx))["requests"]
speech = [q for q in reqs if q["kind"] == "SynthesizeSpeech"]
served = sorted(q["first_byte_ms"] for q in speech if q.get("first_byte_ms") is not None)
reused = sum(1 for q in speech if q.get("reused_connection"))
def pct(xs, p):
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else float("nan")
fake50 = pct(served, 50) - d
print(f"== fake Polly: {len(speech)} requests, {reused} on a reused (warm) connection, "
      f"{len({q['connection'] for q in speech})} connections")
print(f"== fake Polly's own time, arrival to first audio block, minus the {d:g} ms delay: "
      f"p50 {fake50:.3f} ms, p90 {pct(served, 90) - d:.3f} ms, p99 {pct(served, 99) - d:.3f} ms")
lat = r["first_audio_latency"]
for name in ("first_question_from_upgrade", "next_question_from_question_start", "next_question_from_answer"):
    s = lat[name]
    if s["count"]:
        print(f"== client {name} minus the {d:g} ms delay: p50 {s['p50_ms'] - d:.3f} ms, "
              f"p90 {s['p90_ms'] - d:.3f} ms, p99 {s['p99_ms'] - d:.3f} ms (n={s['count']}); "
              f"less the fake's p50: {s['p50_ms'] - d - fake50:.3f} ms")
PY
fi
[ "$keep" = 1 ] && echo "== result: $tmp/result.json"
if [ "$daemon_rc" != 0 ]; then
	exit 1
fi
exit "$bench_rc"
