#!/bin/sh
# Manages a private PostgreSQL 15 cluster living in DIR:
#   DIR/data  the cluster (created on first start; user "wa", trust auth)
#   DIR/run   its Unix socket      DIR/log/postgresql.log  its log
# Usage: pg.sh start DIR PORT | stop DIR | restart DIR | status DIR
# Clients connect with host=127.0.0.1 port=PORT user=wa.
set -eu

PGBIN=/usr/lib/postgresql/15/bin   # Debian's layout; not on PATH
usage() { echo "usage: $0 start DIR PORT | stop DIR | restart DIR | status DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
[ "$cmd" != start ] || mkdir -p "$dir/run" "$dir/log"
[ ! -d "$dir" ] || dir=$(cd "$dir" && pwd)   # paths in the config must be absolute
[ -x "$PGBIN/pg_ctl" ] || { echo "pg.sh: $PGBIN/pg_ctl not found: run scripts/deps.sh" >&2; exit 1; }

# PostgreSQL refuses to run as root, so root runs it as an unprivileged user.
if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then
        pguser=postgres
    else
        pguser=wa-pg
        id "$pguser" >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin "$pguser"
    fi
else
    pguser=
fi

# Runs a command as the server's user, from DIR (root's cwd may be unreadable to it).
as_pg() {
    if [ -n "$pguser" ]; then (cd "$dir" && runuser -u "$pguser" -- "$@")
    else (cd "$dir" && "$@"); fi
}

# Names the first directory on the way to DIR that the server's user can't enter.
check_traverse() {
    [ -n "$pguser" ] || return 0
    runuser -u "$pguser" -- test -x "$dir" && return 0
    p=
    for part in $(echo "$dir" | tr / ' '); do
        p="$p/$part"
        if ! runuser -u "$pguser" -- test -x "$p"; then
            echo "pg.sh: user $pguser cannot enter $p (on the way to $dir)." >&2
            echo "pg.sh: allow it with: chmod o+x $p   (or put the cluster elsewhere)" >&2
            exit 1
        fi
    done
}

pg_ctl() { as_pg "$PGBIN/pg_ctl" -D "$dir/data" "$@"; }
running() { [ -f "$dir/data/PG_VERSION" ] && pg_ctl status >/dev/null 2>&1; }

case $cmd in
start)
    [ $# -eq 3 ] || usage
    port=$3
    if running; then echo "pg: already running ($dir)"; exit 0; fi
    if [ -n "$pguser" ]; then
        # Only the first time (or after a manual chown): the data dir can be large.
        [ "$(stat -c %U "$dir")" = "$pguser" ] || chown -R "$pguser:" "$dir"
        check_traverse
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        # C.UTF-8 gives UTF-8 aware ctype; plain C if the locale is missing.
        as_pg "$PGBIN/initdb" -D "$dir/data" -U wa --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/log/initdb.log" 2>&1 ||
            as_pg "$PGBIN/initdb" -D "$dir/data" -U wa --auth=trust -E UTF8 --locale=C >"$dir/log/initdb.log" 2>&1 ||
            { cat "$dir/log/initdb.log" >&2; exit 1; }
        echo "include_if_exists = 'wa.conf'" >>"$dir/data/postgresql.conf"
    fi
    # Rewritten on every start so that a new PORT takes effect.
    cat >"$dir/data/wa.conf" <<CONF
# written by scripts/pg.sh on each start
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/run'
fsync = on
synchronous_commit = on
max_connections = 200
# A new cluster has no used WAL segments to recycle, so every 16 MB of WAL
# (~15,000 messages) it creates one, and by default writes 16 MB of zeros and
# syncs them while commits wait: a 14 ms stall every 1.7 s at 10,000
# messages/s. On ext4 and xfs the blocks are allocated as WAL is written, and
# a full disk stops PostgreSQL either way.
wal_init_zero = off
${WA_PG_EXTRA_CONF:-}
CONF
    [ -z "$pguser" ] || chown "$pguser:" "$dir/data/wa.conf"
    # -w waits until the server accepts connections.
    pg_ctl -l "$dir/log/postgresql.log" -w -t 60 -s start ||
        { tail -n 20 "$dir/log/postgresql.log" >&2; exit 1; }
    echo "pg: running on 127.0.0.1:$port ($dir)"
    ;;
stop)
    if running; then
        pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
        pg_ctl -m fast -w -t 60 -s stop
        # pg_ctl returns once the server removed its pid file, which it does on
        # its way out: wait for the process itself, so that "stopped" means gone.
        # A zombie is gone (it only waits for init, which may never reap it).
        i=0
        while [ -n "$pid" ] && [ $i -lt 200 ] &&
              grep -q '^State:[[:space:]]*[^Z[:space:]]' "/proc/$pid/status" 2>/dev/null; do
            sleep 0.05; i=$((i + 1))
        done
    fi
    ;;
restart)
    [ -f "$dir/data/PG_VERSION" ] || { echo "pg.sh: no cluster in $dir" >&2; exit 1; }
    pg_ctl -l "$dir/log/postgresql.log" -m fast -w -t 60 -s restart ||
        { tail -n 20 "$dir/log/postgresql.log" >&2; exit 1; }
    ;;
status)
    [ -f "$dir/data/PG_VERSION" ] || { echo "pg: no cluster in $dir"; exit 4; }
    pg_ctl status
    ;;
*) usage ;;
esac
