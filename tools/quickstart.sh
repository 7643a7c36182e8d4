#!/usr/bin/env bash
# interviewd quick start: install what is missing, build, then run the daemon or the tests.
#   tools/quickstart.sh run        serve ws://127.0.0.1:8000/api/v1/ws/interview (mock voice)
#   tools/quickstart.sh test       run the whole test suite (ctest)
#   tools/quickstart.sh test-asan  the suite again, built with ASan+UBSan
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
action="${1:-run}"
# The tree `run` and `test` build (the quick-start test points it at the tree under test).
build_dir="${IVD_QUICKSTART_BUILD_DIR:-$here/build}"

install_missing() {
    local missing=() pkg
    while read -r pkg; do
        [[ -z "$pkg" || "$pkg" == \#* ]] && continue
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done < "$here/tools/debian-packages.txt"
    ((${#missing[@]} == 0)) && return 0
    echo "quickstart: installing ${missing[*]}" >&2
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

build() { # build DIR [cmake options...]
    local dir="$1"; shift
    cmake -S "$here" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)"
}

install_missing
case "$action" in
run)
    build "$build_dir"
    echo "quickstart: serving; connect to ws://127.0.0.1:8000/api/v1/ws/interview (Ctrl-C stops)" >&2
    exec "$build_dir/bin/interviewd"
    ;;
test)
    build "$build_dir"
    cd "$build_dir" && ctest --output-on-failure -j"$(nproc)"
    ;;
test-asan)
    build "$here/build-asan" -DIVD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    cd "$here/build-asan" && \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --output-on-failure -j"$(nproc)"
    ;;
*)
    echo "usage: tools/quickstart.sh run|test|test-asan" >&2
    exit 2
    ;;
esac
