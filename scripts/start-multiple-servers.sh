#!/usr/bin/env bash
# Starts several ChatServers sharing one PostgreSQL backplane, for trying
# out scale-out locally: a client on one server sees messages sent on another.
#
#   scripts/start-multiple-servers.sh            # 3 servers on 5000, 5001, 5002
#   DATABASE_URL=postgres://u:p@db:5432/chat scripts/start-multiple-servers.sh
#
# Environment:
#   DATABASE_URL    PostgreSQL DSN given to every server as --connection-string
#                   (default postgres://postgres:postgres@localhost:5432/signalr_demo,
#                   e.g. `docker compose up -d postgres`); "none" starts the
#                   servers without a backplane (each one on its own)
#   BASE_PORT       port of the first server, the others follow (default 5000)
#   COUNT           number of servers (default 3)
#   SERVER_BIN      use this server binary instead of building ./cmd/server
#   HEALTH_TIMEOUT  seconds to wait for every server to be healthy (default 60)
#   LOG_DIR         where chatserverN.log go (default: a temporary directory)
#
# Ctrl-C (or SIGTERM) stops every server and waits for them to exit.
set -euo pipefail

BASE_PORT=${BASE_PORT:-5000}
COUNT=${COUNT:-3}
DATABASE_URL=${DATABASE_URL:-postgres://postgres:postgres@localhost:5432/signalr_demo}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}

for n in "$BASE_PORT" "$COUNT" "$HEALTH_TIMEOUT"; do
	case $n in '' | *[!0-9]*) echo "BASE_PORT, COUNT and HEALTH_TIMEOUT must be numbers" >&2; exit 2 ;; esac
done
if ((COUNT < 1 || BASE_PORT < 1 || BASE_PORT + COUNT - 1 > 65535)); then
	echo "ports $BASE_PORT..$((BASE_PORT + COUNT - 1)) are out of range" >&2
	exit 2
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/chatservers.XXXXXX")
LOG_DIR=${LOG_DIR:-$work}
mkdir -p "$LOG_DIR"
pids=()
sleeper=

# stop sends SIGTERM to every server still running and waits for it, so no
# server outlives the script (the servers shut down gracefully on SIGTERM).
stop() {
	trap - EXIT INT TERM
	local pid
	# ${a[@]+...}: bash 3.2 (macOS) treats an empty array as unset under -u.
	for pid in ${pids[@]+"${pids[@]}"} $sleeper; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in ${pids[@]+"${pids[@]}"} $sleeper; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap stop EXIT
trap 'echo; echo "Stopping servers..."; stop; exit 130' INT
trap 'stop; exit 143' TERM

server=${SERVER_BIN:-}
if [[ -z $server ]]; then
	echo "Building ./cmd/server..."
	(cd "$repo" && go build -o "$work/chatserver" ./cmd/server)
	server=$work/chatserver
fi

backplane=()
if [[ $DATABASE_URL != none ]]; then
	backplane=(--connection-string "$DATABASE_URL")
	# Hide the password of a URL or of an Npgsql/libpq keyword string.
	echo "Backplane: $(sed -E -e 's#(://[^:/@]*:)[^@]*@#\1****@#' -e 's#((P|p)assword|PASSWORD|PWD|pwd|Pwd) *= *[^; ]*#\1=****#g' <<<"$DATABASE_URL")"
else
	echo "Backplane: none (DATABASE_URL=none): the servers do not share messages"
fi

# The servers read DATABASE_URL themselves: keep it (and "none") out of their
# environment so --connection-string alone decides.
export -n DATABASE_URL

for ((i = 0; i < COUNT; i++)); do
	port=$((BASE_PORT + i))
	"$server" --urls "http://localhost:$port" ${backplane[@]+"${backplane[@]}"} >"$LOG_DIR/chatserver$((i + 1)).log" 2>&1 &
	pids+=($!)
done

# status prints the HTTP status of GET url, or 000 if there is no answer.
status() {
	if command -v curl >/dev/null; then
		curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$1" || true
	else
		# bash's /dev/tcp: enough for a status line from localhost.
		local hostport=${1#http://} path
		path=/${hostport#*/}
		hostport=${hostport%%/*}
		(
			exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" || exit 0
			printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
			read -r -t 2 _ code _ <&3 && printf '%s' "$code"
		) 2>/dev/null || true
	fi
}

# Wait for every server: /health/ready where the server has it (backplane
# connected), else /health.
deadline=$((SECONDS + HEALTH_TIMEOUT))
# The servers read DATABASE_URL themselves: keep it (and "none") out of their
# environment so --connection-string alone decides.
export -n DATABASE_URL

for ((i = 0; i < COUNT; i++)); do
	port=$((BASE_PORT + i))
	while :; do
		if ! kill -0 "${pids[i]}" 2>/dev/null; then
			echo "chatserver$((i + 1)) (port $port) exited; its log:" >&2
			tail -n 20 "$LOG_DIR/chatserver$((i + 1)).log" >&2 || true
			exit 1
		fi
		code=$(status "http://localhost:$port/health/ready")
		[[ $code == 404 ]] && code=$(status "http://localhost:$port/health")
		[[ $code == 200 ]] && break
		if ((SECONDS >= deadline)); then
			echo "chatserver$((i + 1)) (port $port) not healthy after ${HEALTH_TIMEOUT}s; its log:" >&2
			tail -n 20 "$LOG_DIR/chatserver$((i + 1)).log" >&2 || true
			exit 1
		fi
		sleep 0.2
	done
done

echo
for ((i = 0; i < COUNT; i++)); do
	echo "chatserver$((i + 1)): http://localhost:$((BASE_PORT + i))/chathub (log: $LOG_DIR/chatserver$((i + 1)).log)"
done
echo "All $COUNT servers are healthy. Press Ctrl+C to stop them."

# Run until a server exits (then stop the rest) or a signal arrives;
# "sleep & wait" lets the traps run at once.
while :; do
	for ((i = 0; i < COUNT; i++)); do
		if ! kill -0 "${pids[i]}" 2>/dev/null; then
			echo "chatserver$((i + 1)) exited; stopping the others." >&2
			exit 1
		fi
	done
	sleep 1 &
	sleeper=$!
	wait "$sleeper" || true
	sleeper=
done
