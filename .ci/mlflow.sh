#!/usr/bin/env bash
# A real MLflow tracking server for lotl's tests. Source this file, then:
#
#   mlflow_install      # venv at $LOTL_VENV (default ~/.cache/lotl-venv), reused when present
#   mlflow_start        # starts a server on a free port, waits for /health,
#                       # exports LOTL_TEST_MLFLOW_URI, stops it when the shell exits
#   mlflow_stop         # stops it earlier
#
# or in one go: `mlflow_up` (install + start). Running the file directly starts a server,
# runs the command given as arguments with LOTL_TEST_MLFLOW_URI set, then stops it:
#
#   .ci/mlflow.sh cargo test -p lotl-track
#
# The server keeps its state in a fresh temporary directory (sqlite backend store, local
# artifact destination served through the mlflow-artifacts proxy), removed on stop.

LOTL_VENV="${LOTL_VENV:-$HOME/.cache/lotl-venv}"

mlflow_install() {
    if [ ! -x "$LOTL_VENV/bin/python" ]; then
        python3 -m venv "$LOTL_VENV" || return 1
    fi
    if ! "$LOTL_VENV/bin/python" -c 'import mlflow.server' >/dev/null 2>&1; then
        echo "mlflow.sh: installing mlflow into $LOTL_VENV (about 2 minutes)" >&2
        "$LOTL_VENV/bin/pip" install --quiet --upgrade pip >/dev/null 2>&1 || true
        # The full package: mlflow-skinny cannot run the tracking server.
        "$LOTL_VENV/bin/pip" install --quiet mlflow || return 1
    fi
}

# Asks the kernel for a free TCP port on 127.0.0.1.
mlflow_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

mlflow_start() {
    if [ -n "${LOTL_MLFLOW_PID:-}" ] && kill -0 "$LOTL_MLFLOW_PID" 2>/dev/null; then
        return 0
    fi
    local port dir
    port="$(mlflow_free_port)" || return 1
    dir="$(mktemp -d "${TMPDIR:-/tmp}/lotl-mlflow.XXXXXX")" || return 1
    LOTL_MLFLOW_DIR="$dir"
    # setsid: the server forks workers; its own process group lets mlflow_stop end them all.
    setsid "$LOTL_VENV/bin/mlflow" server --host 127.0.0.1 --port "$port" \
        --backend-store-uri "sqlite:///$dir/mlflow.db" \
        --artifacts-destination "$dir/artifacts" \
        --workers 1 \
        >"$dir/server.log" 2>&1 &
    LOTL_MLFLOW_PID=$!
    trap mlflow_stop EXIT
    local uri="http://127.0.0.1:$port" i
    for i in $(seq 1 120); do
        if curl -fsS "$uri/health" >/dev/null 2>&1; then
            export LOTL_TEST_MLFLOW_URI="$uri"
            echo "mlflow.sh: MLflow server at $uri (pid $LOTL_MLFLOW_PID, log $dir/server.log)" >&2
            return 0
        fi
        if ! kill -0 "$LOTL_MLFLOW_PID" 2>/dev/null; then
            echo "mlflow.sh: MLflow server exited; its log:" >&2
            cat "$dir/server.log" >&2
            return 1
        fi
        sleep 1
    done
    echo "mlflow.sh: MLflow server did not answer /health within 120 s; its log:" >&2
    tail -n 50 "$dir/server.log" >&2
    mlflow_stop
    return 1
}

mlflow_stop() {
    if [ -n "${LOTL_MLFLOW_PID:-}" ]; then
        kill -TERM -- "-$LOTL_MLFLOW_PID" 2>/dev/null || kill -TERM "$LOTL_MLFLOW_PID" 2>/dev/null || true
        # The server and its job workers take about 10 s to exit; force them after 30.
        local n=0
        while kill -0 "$LOTL_MLFLOW_PID" 2>/dev/null && [ "$n" -lt 30 ]; do
            sleep 1
            n=$((n + 1))
        done
        kill -KILL -- "-$LOTL_MLFLOW_PID" 2>/dev/null || true
        wait "$LOTL_MLFLOW_PID" 2>/dev/null || true
        unset LOTL_MLFLOW_PID
    fi
    if [ -n "${LOTL_MLFLOW_DIR:-}" ]; then
        rm -rf "$LOTL_MLFLOW_DIR"
        unset LOTL_MLFLOW_DIR
    fi
    unset LOTL_TEST_MLFLOW_URI
}

mlflow_up() {
    mlflow_install && mlflow_start
}

# Executed (not sourced): run the given command against a fresh server.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    mlflow_up || exit 1
    if [ "$#" -gt 0 ]; then
        "$@"
        exit $?
    fi
fi
