#!/bin/bash
# `make run`: runs PostgreSQL, wa-coreapp, wa-webapp (and wa-sandbox if built) from
# this checkout, with all state in var/, until Ctrl-C. Running it again keeps the data.
set -eu
cd "$(dirname "$0")/.."
BIN=${WA_BIN_DIR:-bin}
VAR=$PWD/var
PG_PORT=${WA_PG_PORT:-54329}
mkdir -p "$VAR/pg" "$VAR/log" "$VAR/run" "$VAR/media" "$VAR/sandbox"

# The API key is generated once and kept, so that monitoring set up with it keeps working.
if [ -z "${WA_API_KEY:-}" ]; then
    [ -s "$VAR/api_key" ] || (umask 077 && openssl rand -hex 24 >"$VAR/api_key")
    WA_API_KEY=$(cat "$VAR/api_key")
fi

# The configuration of every process; any of these can be set in the environment.
export WA_DB_HOSTNAME=${WA_DB_HOSTNAME:-127.0.0.1}
export WA_DB_PORT=${WA_DB_PORT:-$PG_PORT}
export WA_DB_USERNAME=${WA_DB_USERNAME:-wa}
export WA_WEB_HOST=${WA_WEB_HOST:-127.0.0.1}
export WA_WEB_PORT=${WA_WEB_PORT:-9090}
export WA_COREAPP_ENDPOINT=${WA_COREAPP_ENDPOINT:-tcp://127.0.0.1:6250}
export WA_SANDBOX_ENDPOINT=${WA_SANDBOX_ENDPOINT:-tcp://127.0.0.1:5590}
export WA_SANDBOX_CONTROL=${WA_SANDBOX_CONTROL:-127.0.0.1:9099}
export WA_SANDBOX_STATE_DIR=${WA_SANDBOX_STATE_DIR:-$VAR/sandbox}
export WA_MEDIA_DIR=${WA_MEDIA_DIR:-$VAR/media}
export WA_API_KEY

names="coreapp webapp"
[ -x "$BIN/wa-sandbox" ] && names="sandbox $names"
for n in $names; do
    [ -x "$BIN/wa-$n" ] || { echo "run: $BIN/wa-$n is missing: run make first" >&2; exit 1; }
done
# Something else on the web port would answer our readiness probe (Debian's
# prometheus service, for one, listens on 9090).
if (exec 3<>"/dev/tcp/$WA_WEB_HOST/$WA_WEB_PORT") 2>/dev/null; then
    echo "run: port $WA_WEB_PORT is already in use; stop that program or set WA_WEB_PORT" >&2
    exit 1
fi

declare -A pid=()
cleanup() {
    trap '' INT TERM    # a second Ctrl-C must not leave PostgreSQL running
    echo "run: stopping"
    for n in webapp coreapp sandbox; do
        [ -n "${pid[$n]:-}" ] || continue
        kill -TERM "${pid[$n]}" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "${pid[$n]}" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "${pid[$n]}" 2>/dev/null && echo "run: wa-$n ignored SIGTERM for 10 s: killed"
        rm -f "$VAR/run/$n.pid"
    done
    scripts/pg.sh stop "$VAR/pg" || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM   # exit runs cleanup

# Reports a child that exited and fails (cleanup stops the others).
check_children() {
    for n in $names; do
        kill -0 "${pid[$n]}" 2>/dev/null && continue
        status=0; wait "${pid[$n]}" || status=$?
        unset "pid[$n]"
        echo "run: wa-$n exited unexpectedly (status $status); end of var/log/$n.log:" >&2
        tail -n 20 "$VAR/log/$n.log" >&2
        exit 1
    done
}

scripts/pg.sh start "$VAR/pg" "$PG_PORT"
for n in $names; do
    # setsid: its own session, so Ctrl-C reaches only this script, which then
    # stops everything in order.
    setsid "$BIN/wa-$n" >>"$VAR/log/$n.log" 2>&1 </dev/null &
    pid[$n]=$!
    echo "${pid[$n]}" >"$VAR/run/$n.pid"
done

# Ready when the webapp answers at all (even an error status).
deadline=$((SECONDS + 60))
until curl -sk -o /dev/null --max-time 2 -H "Authorization: Apikey $WA_API_KEY" \
        "https://$WA_WEB_HOST:$WA_WEB_PORT/v1/health"; do
    check_children
    [ "$SECONDS" -lt "$deadline" ] || { echo "run: the webapp did not answer within 60 s; see var/log/" >&2; exit 1; }
    sleep 0.1
done

cat <<INFO

wa is running.
  API          https://localhost:$WA_WEB_PORT   (self-signed certificate: curl -k)
  first login  admin / secret; the password must be changed at the first login:
    curl -k -X POST https://localhost:$WA_WEB_PORT/v1/users/login -u admin:secret -H 'Content-Type: application/json' -d '{"new_password":"..."}'
  API key      $WA_API_KEY   (header "Authorization: Apikey <key>", for /v1/health and /v1/metrics)
INFO
case " $names " in *" sandbox "*) echo "  sandbox      http://$WA_SANDBOX_CONTROL   (control API: act as customers)";; esac
echo "  logs         var/log/  (PostgreSQL: var/pg/log/)"
echo "Ctrl-C stops everything; the data stays in var/."

# Stay in the foreground; `sleep & wait` so that Ctrl-C is handled at once.
while :; do
    check_children
    sleep 1 & wait $! || true
done
