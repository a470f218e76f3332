#!/usr/bin/env bash
# loadgen vs wrk against the same local server, one after the other, then loadgen's own goals:
#   1. saturated throughput, loadgen / wrk          (goal >= 0.5x)  -- vs the tiny asyncio server
#      and vs a minimal aiohttp server
#   2. fixed 2,000 requests/s for 30 s: achieved rate (goal >= 99 %) and scheduler lag p99
#      (goal <= 5 ms)
#   3. peak RSS of a 1,000,000-request run           (goal <= 200 MB)
# Prints figures; asserts nothing (timings are never test assertions). Knobs: SAT_SECONDS,
# FIXED_RATE, FIXED_SECONDS, MILLION (requests in the RSS run), CONNECTIONS.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
SAT_SECONDS=${SAT_SECONDS:-10}
FIXED_RATE=${FIXED_RATE:-2000}
FIXED_SECONDS=${FIXED_SECONDS:-30}
MILLION=${MILLION:-1000000}
CONNECTIONS=${CONNECTIONS:-64}
OUT=bench/out
mkdir -p "$OUT"

if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk (Debian package)..." >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

SERVER_PID=""
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
trap stop_server EXIT

start_server() {  # $@: extra tiny_server flags; sets PORT
    rm -f "$OUT/port"
    "$PY" -m bench.tiny_server --port-file "$OUT/port" "$@" >/dev/null &
    SERVER_PID=$!
    for _ in $(seq 1 100); do [ -s "$OUT/port" ] && break; sleep 0.1; done
    PORT=$(cat "$OUT/port")
}

# wrk sends the very body loadgen sends (10 ticks), so both do the same work per request.
"$PY" - >"$OUT/post.lua" <<'PYEOF'
from loadgen.config import LoadConfig, Stage
from loadgen.payloads import PayloadPool

config = LoadConfig(stages=(Stage(duration_s=1, target_rps=1),), start_rps=1, batch=10)
pool = PayloadPool(config=config, run_id="wrk00000", base_ms=1764000000000, query_base_url=None)
body = pool.ingest(0).render(1764000000000, pool.key(0)).decode()
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "application/json"')
print('wrk.headers["Authorization"] = "Bearer bench"')
print("wrk.body = [[" + body + "]]")
PYEOF

json_get() {  # $1: file, $2: python expression over `s`
    "$PY" -c "import json,sys; s=json.load(open(sys.argv[1])); print($2)" "$1"
}

loadgen() {  # $1: json path, rest: loadgen flags
    local out=$1
    shift
    "$PY" -m loadgen --ingest-url "http://127.0.0.1:$PORT/ingest" --token bench --batch 10 \
        --no-progress --json "$out" "$@" >"$out.log" 2>&1 || true
}

saturate() {  # $1: label
    local label=$1 wrk_rps lg1 lg2
    wrk_rps=$(wrk -t1 -c"$CONNECTIONS" -d"${SAT_SECONDS}s" -s "$OUT/post.lua" \
        "http://127.0.0.1:$PORT/ingest" | awk '/Requests\/sec/ {print $2}')
    # An unreachable target rate with no grace: the generator sends as fast as it can for the
    # window and the rest is dropped (and counted); goodput is what it achieved.
    loadgen "$OUT/sat-$label-1.json" --rate 200000 --duration "${SAT_SECONDS}s" --grace 0 \
        --connections "$CONNECTIONS" --workers 1
    lg1=$(json_get "$OUT/sat-$label-1.json" 's["rate"]["goodput_rps"]')
    loadgen "$OUT/sat-$label-2.json" --rate 200000 --duration "${SAT_SECONDS}s" --grace 0 \
        --connections $((CONNECTIONS / 2)) --workers 2
    lg2=$(json_get "$OUT/sat-$label-2.json" 's["rate"]["goodput_rps"]')
    "$PY" - "$label" "$wrk_rps" "$lg1" "$lg2" <<'PYEOF'
import sys
label, wrk, one, two = sys.argv[1], *map(float, sys.argv[2:])
print(f"saturated vs the {label} server (same body, same total connections):")
print(f"  wrk -t1                {wrk:10,.0f} req/s")
print(f"  loadgen --workers 1    {one:10,.0f} req/s   ratio {one / wrk:.2f}x   goal >= 0.5x  "
      f"{'MET' if one / wrk >= 0.5 else 'MISSED'}")
print(f"  loadgen --workers 2    {two:10,.0f} req/s   ratio {two / wrk:.2f}x")
PYEOF
}

echo "== loadgen vs wrk ($(nproc) CPUs, $(date -u +%FT%TZ)) =="
start_server
saturate "tiny-asyncio"
stop_server
start_server --aiohttp
saturate "aiohttp"
stop_server

start_server
# A 2 s warm-up (on top of the 30 s) keeps the first second's TCP handshakes out of the figures.
for workers in 1 2; do
    loadgen "$OUT/fixed-w$workers.json" --rate "$FIXED_RATE" --duration "$((FIXED_SECONDS + 2))s" \
        --warmup 2s --connections 256 --workers "$workers"
    "$PY" - "$OUT/fixed-w$workers.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
rate, lag, c = s["rate"], s["scheduler"]["lag_ms"], s["latency_ms"]["corrected"]
measured = s["config"]["duration_s"] - s["config"]["warmup_s"]
print(f"fixed {rate['target_rps']:,.0f} req/s for {measured:g} s after a"
      f" {s['config']['warmup_s']:g} s warm-up, --workers {s['config']['workers']} (tiny server):")
print(f"  achieved               {rate['achieved_rps']:10,.1f} req/s = {rate['ratio']:.2%}"
      f"   goal >= 99%    {'MET' if rate['ratio'] >= 0.99 else 'MISSED'}")
print(f"  scheduler lag p99      {lag['p99']:10.2f} ms  (p50 {lag['p50']:.2f}, max {lag['max']:.2f})"
      f"   goal <= 5 ms   {'MET' if lag['p99'] <= 5 else 'MISSED'}")
print(f"  late sends (>5 ms)     {s['scheduler']['late_sends']:10,}   errors {s['requests']['errors']:,}")
print(f"  latency corrected      p50 {c['p50']:.2f} ms  p99 {c['p99']:.2f} ms  max {c['max']:.2f} ms")
PYEOF
done

# The 1M run: planned far above what one process can send, with a long grace, so that all 1M
# requests go out as fast as the generator can, backlog and all (the backlog is a counter, not
# a queue of objects). GNU time reports the process's peak RSS.
SECONDS_1M=$(( MILLION / 20000 ))
/usr/bin/time -v "$PY" -m loadgen --ingest-url "http://127.0.0.1:$PORT/ingest" --token bench \
    --batch 10 --rate 20000 --duration "${SECONDS_1M}s" --grace 3600 --connections "$CONNECTIONS" \
    --no-progress --json "$OUT/million.json" >"$OUT/million.log" 2>"$OUT/million.time" || true
"$PY" - "$OUT/million.json" "$OUT/million.time" <<'PYEOF'
import json, re, sys
s = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
rss_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", text).group(1)
print(f"{s['requests']['planned']:,}-request run: sent {s['requests']['sent']:,},"
      f" ok {s['requests']['ok']:,}, wall {wall}")
print(f"  peak RSS               {rss_mb:10.1f} MB      goal <= 200 MB "
      f"{'MET' if rss_mb <= 200 else 'MISSED'}")
PYEOF
stop_server
echo "JSON summaries and logs in $OUT/"
