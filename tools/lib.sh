# tools/lib.sh — shared shell helpers: locating PostgreSQL (15, 17 or 18), running as the postgres OS user,
# a postgres-writable work directory, free ports, and the private throwaway cluster.
# Sourced by tools/*, test/run and benchmarks/run; never executed directly.

PM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PM_PG_MAJORS="15 17 18"   # supported major versions (Makefile: PG_SUPPORTED_MAJORS)
PM_PG_MAJOR=15              # the one PG_CONFIG points to, once pm_check_pg_config ran

pm_die() { echo "parallel_material: $*" >&2; exit 1; }
pm_log() { echo "== $*" >&2; }

# PG_CONFIG: from the environment, else pg_config on PATH; must be a supported major version
# (PM_PG_MAJORS) with server headers. Sets PM_PG_MAJOR.
pm_check_pg_config() {
    PG_CONFIG=${PG_CONFIG:-pg_config}
    command -v "$PG_CONFIG" >/dev/null 2>&1 ||
        pm_die "pg_config not found ($PG_CONFIG): run tools/deps as root, or set PG_CONFIG to the pg_config of PostgreSQL $PM_PG_MAJORS"
    local v major
    v=$("$PG_CONFIG" --version 2>/dev/null) || pm_die "$PG_CONFIG does not run: set PG_CONFIG to the pg_config of PostgreSQL $PM_PG_MAJORS"
    major=$(sed -E 's/^PostgreSQL ([0-9]+).*/\1/' <<<"$v")
    [[ " $PM_PG_MAJORS " == *" $major "* ]] ||
        pm_die "$PG_CONFIG is $v, this extension supports PostgreSQL $PM_PG_MAJORS: set PG_CONFIG (tools/pg-versions pg-config MAJOR)"
    PM_PG_MAJOR=$major
    [ -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ] ||
        pm_die "PostgreSQL $PM_PG_MAJOR server headers missing: run tools/deps as root"
    PM_BINDIR=$("$PG_CONFIG" --bindir)
    [ -x "$PM_BINDIR/postgres" ] ||
        pm_die "no PostgreSQL server at $PM_BINDIR: run tools/deps as root (postgresql-$PM_PG_MAJOR)"
    PM_PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/..
    # A tree built from source (.build/pg/MAJOR: prefix/bin next to prefix/lib/libpq.so.5) has its
    # build-time directory as RUNPATH; copied or moved (a worktree, a CI clone), its programs would
    # load the host's older libpq instead. Its own lib/ first (pg_config answers where it is now).
    if [ -e "$PM_BINDIR/../lib/libpq.so.5" ]; then
        LD_LIBRARY_PATH=$(cd "$PM_BINDIR/../lib" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
        export LD_LIBRARY_PATH
    fi
    export PG_CONFIG PM_BINDIR PM_PGXS_DIR PM_PG_MAJOR
    [ -n "${PM_PG_ROOT:-}" ] && pm_private_install_tree
    return 0
}

# PM_PG_ROOT=DIR: install into, and run the server from, a private copy of the PostgreSQL
# installation under DIR instead of the system one, so that several checkouts can build, install
# and test at once without replacing each other's library. PostgreSQL finds its lib and share
# directories relative to its binaries, so the copy is self-contained; make install uses
# DESTDIR=DIR. The copy is made once (about 50 MB).
pm_private_install_tree() {
    local sys_bin sys_share sys_lib rel
    sys_bin=$("$PG_CONFIG" --bindir)
    sys_share=$("$PG_CONFIG" --sharedir)
    sys_lib=$("$PG_CONFIG" --pkglibdir)
    for rel in "$(dirname "$sys_bin")" "$sys_share" "$sys_lib"; do
        # A tree of tools/pg-versions carries a stamp: a rebuilt tree replaces its copy.
        if [ -f "$rel/.pm-stamp" ] && ! cmp -s "$rel/.pm-stamp" "$PM_PG_ROOT$rel/.pm-stamp"; then
            rm -rf "${PM_PG_ROOT:?}$rel"
        fi
        if [ ! -d "$PM_PG_ROOT$rel" ]; then
            mkdir -p "$(dirname "$PM_PG_ROOT$rel")" && cp -a "$rel" "$PM_PG_ROOT$rel" ||
                pm_die "cannot copy $rel into PM_PG_ROOT=$PM_PG_ROOT"
        fi
    done
    chmod -R a+rX "$PM_PG_ROOT" 2>/dev/null
    PM_BINDIR=$PM_PG_ROOT$sys_bin
    export PM_BINDIR
}

# Run a command as the postgres OS user when we are root (initdb and TAP refuse root).
pm_as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A directory the server user can write: .build/ in the tree, or /tmp when the tree is not
# reachable by postgres (a checkout under /root, say).
# Sets PM_WORK (call it directly, not in $(...), so that pm_die stops the script).
pm_work_dir() {
    if [ -n "${PM_WORK:-}" ]; then return; fi
    local w="$PM_ROOT/.build"
    mkdir -p "$w" || pm_die "cannot create $w"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$w" 2>/dev/null
        if ! runuser -u postgres -- test -w "$w" 2>/dev/null; then
            w=/tmp/parallel_material-work
            mkdir -p "$w" && chown postgres: "$w" || pm_die "cannot create $w"
        fi
    fi
    PM_WORK=$w
    export PM_WORK
}

pm_port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Sets PM_PICKED_PORT: PM_PORT if given and free, else a free port (call directly).
pm_pick_port() {
    if [ -n "${PM_PORT:-}" ]; then
        pm_port_in_use "$PM_PORT" &&
            pm_die "port $PM_PORT on 127.0.0.1 is already in use: stop what listens there, or unset PM_PORT to pick a free port"
        PM_PICKED_PORT=$PM_PORT; return
    fi
    local p i
    for i in $(seq 1 200); do
        p=$((50000 + (RANDOM * 7 + i) % 10000))
        pm_port_in_use "$p" || { PM_PICKED_PORT=$p; return; }
    done
    pm_die "no free TCP port found on 127.0.0.1 between 50000 and 59999"
}

# pm_cluster_start NAME [extra postgresql.conf lines...]
# Creates a fresh throwaway cluster in the work dir, starts it, exports PGHOST/PGPORT/PGUSER/
# PGDATABASE/PM_CLUSTER_DIR. A leftover cluster of the same name (a killed earlier run) is
# stopped and removed first.
pm_cluster_start() {
    local name=$1; shift
    local dir port
    pm_work_dir
    dir="$PM_WORK/$name"
    if [ -f "$dir/postmaster.pid" ]; then
        pm_as_pg "$PM_BINDIR/pg_ctl" -D "$dir" stop -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    pm_as_pg mkdir -p "$dir" || pm_die "cannot create $dir as the postgres user"
    pm_as_pg "$PM_BINDIR/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; pm_die "initdb failed (log above)"; }
    local attempt
    for attempt in 1 2 3; do
        pm_pick_port
        port=$PM_PICKED_PORT
        {
            echo "listen_addresses = '127.0.0.1'"
            echo "port = $port"
            echo "unix_socket_directories = ''"
            echo "shared_preload_libraries = '${PM_PRELOAD-parallel_material}'"
            # PM_CLUSTER_DEFAULTS=1 (benchmarks/run): PostgreSQL's defaults for everything but
            # the connection plumbing above and the caller's lines (docs/benchmarks.md).
            if [ "${PM_CLUSTER_DEFAULTS:-0}" != 1 ]; then
                echo "max_worker_processes = 16"
                echo "max_parallel_workers = 8"
                echo "fsync = ${PM_FSYNC:-off}"
                echo "log_min_messages = warning"
            fi
            echo "log_line_prefix = '%m [%p] '"
            for line in "$@"; do echo "$line"; done
        } | pm_as_pg tee "$dir/data/postgresql.auto.conf" >/dev/null
        if pm_as_pg "$PM_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
            export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres PM_CLUSTER_DIR=$dir
            return 0
        fi
        [ -n "${PM_PORT:-}" ] && break
    done
    tail -20 "$dir/server.log" >&2
    pm_die "the private cluster in $dir did not start (server log above)"
}

pm_cluster_stop() {
    [ -n "${PM_CLUSTER_DIR:-}" ] && [ -d "$PM_CLUSTER_DIR/data" ] || return 0
    pm_as_pg "$PM_BINDIR/pg_ctl" -D "$PM_CLUSTER_DIR/data" stop -m fast -w >/dev/null 2>&1 ||
        pm_as_pg "$PM_BINDIR/pg_ctl" -D "$PM_CLUSTER_DIR/data" stop -m immediate >/dev/null 2>&1 || true
}

# Build and install the extension (quietly; the log is shown on failure).
pm_build_install() {
    local log
    pm_work_dir
    log="$PM_WORK/build.log"
    if ! make -C "$PM_ROOT" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >"$log" 2>&1 ||
       ! make -C "$PM_ROOT" install PG_CONFIG="$PG_CONFIG" ${PM_PG_ROOT:+DESTDIR="$PM_PG_ROOT"} >>"$log" 2>&1; then
        tail -40 "$log" >&2
        pm_die "build failed (last lines of $log above)"
    fi
}
