#!/usr/bin/env bash
# Prints the JSON reports of a benchmarks.sh output directory as a Markdown
# table (the Results section of BENCHMARKS.md): cmd/loadgen/benchtable.sh DIR
set -euo pipefail
dir=${1:?usage: benchtable.sh DIR}
echo "| Run | Transport / protocol | Conns | Load | Sent | Deliveries | Deliveries/s | Server CPU µs/delivery | p50 ms | p99 ms | Lost / ooo | Memory/conn | Result |"
echo "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|"
for f in "$dir"/*.json; do
	jq -r --arg name "$(basename "$f" .json)" '
		def r: . * 10 | round / 10;
		[ $name,
		  "\(.transport) / \(.protocol)",
		  "\(.connected)",
		  (if .scenario == "connect" then "idle"
		   elif .scenario == "storm" then "\(.rate)/s churn"
		   elif .rate == 0 then "closed loop"
		   else "\(.rate)/s" end),
		  "\(.sent)",
		  (if .scenario == "storm" then "\(.storm.connects) cycles" else "\(.received)/\(.expected)" end),
		  (if .scenario == "storm" then "\(.storm.connectsPerSecond|round) cycles/s" else "\(.receivedPerSecond|round)" end),
		  (if (.serverCpuPerDeliveryMicros // 0) > 0 then "\(.serverCpuPerDeliveryMicros|r)" else "" end),
		  "\(.latency.p50Ms|r)", "\(.latency.p99Ms|r)",
		  "\(.lost) / \(.outOfOrder)",
		  (if .memory then "\(.memory.perConnectionBytes/1024|r) KiB" else "" end),
		  (if .passed then "pass" else "FAIL" end)
		] | "| " + join(" | ") + " |"' "$f"
done
