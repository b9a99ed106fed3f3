#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md. Run from the repository root:
#
#   cmd/loadgen/benchmarks.sh [outdir]         (default outdir: /tmp/gosignalr-bench)
#
# Servers run as separate processes on 127.0.0.1 (each run gets a fresh one,
# so memory figures start from a clean heap); the load generator is another
# process on the same machine. ONLY=<regex> runs only the runs whose name
# matches; DURATION sets the measuring phase (default 10s). Every run writes its JSON report to outdir and
# its summary table to outdir/summary.txt. Set PGDSN to a PostgreSQL DSN to
# also run the three-node backplane rows (and pgbench, if installed, for the
# raw INSERT+NOTIFY rate), or PGDSN=auto to have a throwaway
# PostgreSQL cluster (initdb, fsync off, port 55432) started and removed.
set -euo pipefail

out=${1:-/tmp/gosignalr-bench}
mkdir -p "$out"
LG="$out/loadgen"
go build -o "$LG" ./cmd/loadgen
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
: >"$out/summary.txt"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }
trap cleanup EXIT

# serve NAME PORT MODE [ARGS...] : start a server process (MODE is --serve or
# --baseline-server) and wait until it answers.
serve() {
	local name=$1 port=$2 mode=$3
	shift 3
	"$LG" "$mode" 127.0.0.1:"$port" "$@" 2>"$out/server-$name.log" &
	pids+=($!)
	for _ in $(seq 50); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/debug/memstats" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "server $name did not start" >&2
	return 1
}

# run NAME ARGS... : one load run, report to $out/NAME.json, table to summary.
run() {
	local name=$1
	shift
	[[ -z "${ONLY:-}" || "$name" =~ $ONLY ]] || return 0
	echo "== $name: loadgen $*" | tee -a "$out/summary.txt"
	"$LG" "$@" --quiet --json "$out/$name.json" | tee -a "$out/summary.txt" || echo "(run $name failed: exit $?)" | tee -a "$out/summary.txt"
	echo | tee -a "$out/summary.txt"
}

H=http://127.0.0.1:5100/bench
B=http://127.0.0.1:5101/bench
# Server statistics (memory after GC, CPU time): every single-node run
# reports the server's CPU time per delivery, which holds up on a loaded machine.
HS=(--mem-url http://127.0.0.1:5100/debug/memstats)
BS=(--mem-url http://127.0.0.1:5101/debug/memstats)
D=${DURATION:-10s}

# Echo: invocations with results, closed loop on 100 connections.
serve hub 5100 --serve
run echo-ws-100 --url $H --scenario echo -n 100 --duration "$D" "${HS[@]}"
run echo-ws-1 --url $H --scenario echo -n 1 --duration "$D" "${HS[@]}"
cleanup

# Broadcast throughput with 1,000 WebSocket clients: closed loop (4 senders,
# 8 in flight each), 64-byte payloads, hub runtime vs the raw baseline. The
# machine is shared, so the two alternate, ROUNDS times each, and the ratio
# is taken between the medians.
ROUNDS=${ROUNDS:-3}
serve hub 5100 --serve
serve baseline 5101 --baseline-server
for r in $(seq "$ROUNDS"); do
	run broadcast-hub-1000-round$r --url $H --scenario broadcast -n 1000 --senders 4 --window 8 --duration "$D" "${HS[@]}"
	run broadcast-baseline-1000-round$r --url $B --scenario broadcast -n 1000 --senders 4 --window 8 --duration "$D" "${BS[@]}"
done
cleanup
median() { jq -s 'map(.receivedPerSecond) | sort | .[(length-1)/2|floor] | floor' "$@"; }
if ls "$out"/broadcast-hub-1000-round*.json >/dev/null 2>&1 && ls "$out"/broadcast-baseline-1000-round*.json >/dev/null 2>&1; then
	hub=$(median "$out"/broadcast-hub-1000-round*.json)
	base=$(median "$out"/broadcast-baseline-1000-round*.json)
	echo "broadcast deliveries/s, median of $ROUNDS: hub $hub, baseline $base, ratio $(jq -n "$hub / $base * 100 | floor")%" | tee -a "$out/summary.txt"
fi

# Broadcast latency at fixed rates, one sender: 20 msg/s x 1,000 clients =
# 20,000 deliveries/s, and 50 msg/s = 50,000 deliveries/s.
for rate in 20 50; do
	serve hub 5100 --serve
	run broadcast-hub-1000-rate$rate --url $H --scenario broadcast -n 1000 --rate $rate --duration "$D" "${HS[@]}"
	cleanup
	serve baseline 5101 --baseline-server
	run broadcast-baseline-1000-rate$rate --url $B --scenario broadcast -n 1000 --rate $rate --duration "$D" "${BS[@]}"
	cleanup
done

# Groups of 10 and sends to single connections, 1,000 clients.
serve hub 5100 --serve
run group-hub-1000 --url $H --scenario group -n 1000 --group-size 10 --rate 2000 --duration "$D" "${HS[@]}"
run connection-hub-1000 --url $H --scenario connection -n 1000 --rate 5000 --duration "$D" "${HS[@]}"
cleanup

# Other transports, 100 clients, broadcast closed loop.
serve hub 5100 --serve
run broadcast-sse-100 --url $H --scenario broadcast -n 100 --senders 2 --transport sse --duration "$D" "${HS[@]}"
run broadcast-lp-100 --url $H --scenario broadcast -n 100 --senders 2 --transport lp --duration "$D" "${HS[@]}"
run broadcast-msgpack-1000 --url $H --scenario broadcast -n 1000 --senders 4 --window 8 --protocol messagepack --duration "$D" "${HS[@]}"
cleanup

# Memory per idle WebSocket connection at 10,000 connections (fresh server).
serve hub 5100 --serve
run connect-hub-10000 --url $H --scenario connect -n 10000 --ramp 2000 --duration 5s "${HS[@]}"
cleanup
serve baseline 5101 --baseline-server
run connect-baseline-10000 --url $B --scenario connect -n 10000 --ramp 2000 --duration 5s "${BS[@]}"
cleanup

# Connect/disconnect churn next to 1,000 idle connections.
serve hub 5100 --serve
run storm-hub --url $H --scenario storm -n 1000 --rate 200 --duration "$D" "${HS[@]}"
cleanup

# Backplane: three hub servers sharing PostgreSQL, clients spread round-robin
# (connection i on node i%3). Rounds alternate, as above; ROUNDS of each:
#   backplane-msgs-30: 30 clients all sending, closed loop: messages/s through
#     the backplane (every message is one row, INSERTed and NOTIFYed, and
#     delivered by all three nodes);
#   backplane-rate1000: 1,000 msg/s from 30 senders, latency; the report's
#     cross-node line covers receivers on another node than the sender;
#   pgbench-c3 / pgbench-c8: raw INSERT+NOTIFY into the same table (same
#     trigger, the three nodes listening) of a copy of the newest row (the
#     same 218-byte payload), 3 and 8 clients, tps.
# Then the publisher alone (go test -bench Publish ./npgsql, same payload
# size, in a throwaway database on the same server): single-row vs coalesced.
if [[ "${PGDSN:-}" == auto ]]; then
	pgdir=$(mktemp -d /tmp/gosignalr-bench-pg.XXXXXX)
	asuser=()
	if [[ $(id -u) == 0 ]]; then chown postgres "$pgdir"; asuser=(runuser -u postgres --); fi
	"${asuser[@]}" initdb -D "$pgdir/data" -A trust -U postgres >"$out/pg-initdb.log"
	"${asuser[@]}" pg_ctl -D "$pgdir/data" -l "$pgdir/log" -w \
		-o "-p 55432 -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
	trap 'cleanup; "${asuser[@]}" pg_ctl -D "$pgdir/data" -m immediate stop >/dev/null; rm -rf "$pgdir"' EXIT
	PGDSN="postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable"
fi

# pgb NAME CLIENTS : pgbench INSERT+NOTIFY of the newest backplane row's
# payload, with the load payload's prefix "lg1|" turned into "pgb|": the
# nodes receive and dispatch every row like a real broadcast, but a client
# that gets one counts it as "other", not as a load message. Afterwards it
# waits until the nodes' listeners have read every notification (the queue is
# empty), so the next run does not start behind a backlog.
pgb() {
	local name=$1 clients=$2 hex
	[[ -z "${ONLY:-}" || "$name" =~ $ONLY ]] || return 0
	if ! command -v pgbench >/dev/null; then
		echo "(pgbench not found: $name skipped)" | tee -a "$out/summary.txt"
		return 0
	fi
	hex=$(psql "$PGDSN" -Atc 'SELECT encode("Payload", '"'hex'"') FROM "SignalR"."BenchHub_Messages" ORDER BY "Id" DESC LIMIT 1')
	if [[ -z "$hex" ]]; then
		echo "(no backplane row to copy yet: $name skipped)" | tee -a "$out/summary.txt"
		return 0
	fi
	hex=$(sed 's/../& /g; s/6c 67 31 7c /70 67 62 7c /g; s/ //g' <<<"$hex")
	printf 'INSERT INTO "SignalR"."BenchHub_Messages" ("Payload") VALUES (%s::bytea);\n' "'\\x$hex'" >"$out/insert-notify.sql"
	echo "== $name: pgbench -n -f insert-notify.sql -c $clients -j 2 -T ${D%s} ($(( ${#hex} / 2 ))-byte payload)" | tee -a "$out/summary.txt"
	pgbench -n -f "$out/insert-notify.sql" -c "$clients" -j 2 -T "${D%s}" "$PGDSN" >"$out/$name.txt" 2>&1 || echo "(pgbench failed: exit $?)" | tee -a "$out/summary.txt"
	grep -E '^(tps|latency average|number of failed)' "$out/$name.txt" | tee -a "$out/summary.txt"
	local t0=$SECONDS
	while [[ $(psql "$PGDSN" -Atc 'SELECT pg_notification_queue_usage() > 0') == t ]] && ((SECONDS - t0 < 120)); do sleep 0.5; done
	echo "listeners caught up $((SECONDS - t0)) s after pgbench ended" | tee -a "$out/summary.txt"
	echo | tee -a "$out/summary.txt"
}

if [[ -n "${PGDSN:-}" ]]; then
	serve node1 5100 --serve --backplane "$PGDSN"
	serve node2 5102 --serve --backplane "$PGDSN"
	serve node3 5104 --serve --backplane "$PGDSN"
	N3=$H,http://127.0.0.1:5102/bench,http://127.0.0.1:5104/bench
	for r in $(seq "$ROUNDS"); do
		run backplane-msgs-30-round$r --url "$N3" --scenario broadcast -n 30 --senders 30 --window 8 --duration "$D"
		run backplane-rate1000-round$r --url "$N3" --scenario broadcast -n 30 --senders 30 --rate 1000 --duration "$D"
		pgb pgbench-c3-round$r 3
		pgb pgbench-c8-round$r 8
	done
	run backplane-broadcast-1000 --url "$N3" --scenario broadcast -n 1000 --senders 4 --window 8 --duration "$D"
	run backplane-group-1000 --url "$N3" --scenario group -n 999 --group-size 9 --rate 500 --duration "$D"
	run backplane-connection-1000 --url "$N3" --scenario connection -n 999 --rate 500 --duration "$D"
	cleanup
	if ls "$out"/backplane-msgs-30-round*.json >/dev/null 2>&1; then
		msgs=$(jq -s 'map(.sentPerSecond) | sort | .[(length-1)/2|floor] | floor' "$out"/backplane-msgs-30-round*.json)
		echo "backplane messages/s (3 nodes, 30 senders), median of $ROUNDS: $msgs" | tee -a "$out/summary.txt"
	fi
	if ls "$out"/backplane-rate1000-round*.json >/dev/null 2>&1; then
		echo "cross-node latency at 1,000 msg/s, median of $ROUNDS rounds: p50 $(jq -s 'map(.crossNodeLatency.p50Ms) | sort | .[(length-1)/2|floor]' "$out"/backplane-rate1000-round*.json) ms," \
			"p99 $(jq -s 'map(.crossNodeLatency.p99Ms) | sort | .[(length-1)/2|floor]' "$out"/backplane-rate1000-round*.json) ms" | tee -a "$out/summary.txt"
	fi
	for c in 3 8; do
		if ls "$out"/pgbench-c$c-round*.txt >/dev/null 2>&1; then
			echo "pgbench INSERT+NOTIFY tps, $c clients, median of $ROUNDS: $(grep -h '^tps' "$out"/pgbench-c$c-round*.txt | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print int(a[int((NR+1)/2)])}')" | tee -a "$out/summary.txt"
		fi
	done
	if [[ -z "${ONLY:-}" || "backplane-publish-bench" =~ $ONLY ]]; then
		echo "== backplane-publish-bench: go test ./npgsql -run '^\$' -bench Publish -benchtime 5s -count $ROUNDS" | tee -a "$out/summary.txt"
		GOSIGNALR_TEST_PG="$PGDSN" go test ./npgsql -run '^$' -bench Publish -benchtime 5s -count "$ROUNDS" 2>&1 | grep -E '^Benchmark' | tee -a "$out/summary.txt"
		echo | tee -a "$out/summary.txt"
	fi
fi

echo "reports in $out; summary in $out/summary.txt"
