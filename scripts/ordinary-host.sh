#!/bin/sh
# Runs `kyverno-runtime run` with a policy set (default: the shipped policies/) on this host while an
# ordinary-host workload runs — a package install and removal, a log rotation, a cron-like job, a
# compile, login shells — and counts the violations it reported. The shipped policies should report
# none. Needs root (the sensor) and network access for apt-get. Usage:
#   scripts/ordinary-host.sh [policy-dir]       (prints the violations, then "violations: N")
# Everything it creates lives in a scratch directory; the packages it installs are removed again.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
policies=${1:-$repo/policies}
scratch=$(mktemp -d /tmp/kyverno-runtime-ordinary-host.XXXXXX)
# cowsay: small, no maintainer scripts; nano: small, registers alternatives (update-alternatives).
pkgs=${ORDINARY_HOST_PACKAGES:-cowsay nano}

if [ -f "$repo/dist/src/cli/main.js" ]; then cli="node $repo/dist/src/cli/main.js"
else cli="node --import tsx $repo/src/cli/main.ts"; fi

cleanup() {
  [ -n "${run_pid:-}" ] && kill -INT "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT INT TERM

# Audit only: this script measures noise, it must not kill anything on the host.
(cd "$repo" && exec $cli run -p "$policies" --listen off --mode audit --no-install \
  --db "$scratch/state.db" --log-file "$scratch/run.log") >"$scratch/violations.txt" 2>"$scratch/run.err" &
run_pid=$!
i=0
until grep -q 'running; Ctrl-C to stop' "$scratch/run.err" 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 600 ] || ! kill -0 "$run_pid" 2>/dev/null; then
    cat "$scratch/run.err" >&2
    echo "ordinary-host: run did not start" >&2
    exit 1
  fi
  sleep 0.5
done
echo "ordinary-host: sensor attached; running the workload" >&2

# 1. A package install and removal (only the packages this install adds are removed).
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
added=$(apt-get install -s $pkgs | awk '/^Inst /{print $2}')
need_logrotate=
command -v logrotate >/dev/null || need_logrotate=logrotate
if [ -n "$need_logrotate" ]; then added="$added $(apt-get install -s logrotate | awk '/^Inst /{print $2}')"; fi
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $pkgs $need_logrotate >"$scratch/apt.log" 2>&1
/usr/games/cowsay moo >/dev/null 2>&1 || true
update-alternatives --query editor >/dev/null 2>&1 || true

# 2. Log rotation on a scratch config (compress, create, a postrotate script).
mkdir -p "$scratch/logs"
seq 1 5000 >"$scratch/logs/app.log"
cat >"$scratch/logrotate.conf" <<CONF
$scratch/logs/app.log {
  rotate 3
  compress
  create 0640 root root
  postrotate
    /bin/true
  endscript
}
CONF
logrotate -f -s "$scratch/logrotate.state" "$scratch/logrotate.conf"

# 3. A cron-like job: run-parts over a job directory, under flock, as cron would.
mkdir -p "$scratch/cron.hourly"
cat >"$scratch/cron.hourly/backup" <<JOB
#!/bin/sh
tar czf "$scratch/backup.tgz" -C "$scratch" logs
date >>"$scratch/cron.log"
JOB
chmod +x "$scratch/cron.hourly/backup"
flock "$scratch/cron.lock" run-parts --report "$scratch/cron.hourly"

# 4. A compile.
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >"$scratch/hello.c"
cc -O2 -o "$scratch/hello" "$scratch/hello.c" && "$scratch/hello" >/dev/null

# 5. Login shells.
su - nobody -s /bin/sh -c true
bash -l -c true

# 6. Remove what step 1 installed.
# shellcheck disable=SC2086
apt-get purge -y -q $added >>"$scratch/apt.log" 2>&1

sleep 3 # the last events reach the engine
kill -INT "$run_pid"
wait "$run_pid" || true
run_pid=
cat "$scratch/violations.txt"
echo "violations: $(grep -c ' AUDIT ' "$scratch/violations.txt" || true)"
