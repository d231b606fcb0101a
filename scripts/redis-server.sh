# Sourced by scripts that need a private Redis server (test-redis.sh,
# bench.sh): installs Debian's redis-server when missing and starts servers
# on 127.0.0.1 with a free port and a folder of their own. The caller's trap
# runs stop_redis_servers.

ensure_redis_server() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-server is missing: installing Debian's package" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
}

redis_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis DIR [redis-server options...]: starts a server with its data,
# log and pid file in DIR; prints its URL.
start_redis() {
  local dir=$1 port
  shift
  port=$(redis_free_port)
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" \
    --appendonly no --daemonize yes --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" "$@"
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$port" ping >/dev/null || { echo "redis-server on port $port did not start" >&2; return 1; }
  echo "redis://127.0.0.1:$port/0"
}

# stop_redis_servers ROOT: kills every server whose pid file lies under ROOT
# (one level or two deep), stopped ones included.
stop_redis_servers() {
  local f pid
  for f in "$1"/*.pid "$1"/*/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    [ -n "$pid" ] || continue
    kill -CONT "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
}
