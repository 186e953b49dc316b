# Shared by the eval scripts (sourced, after `cleave` is set to the
# binary): a scratch directory $work removed on exit, also on error and
# Ctrl-C; a `cleave serve` on a free loopback port, stopped on exit too.
#   eval_init NAME        make $work (/tmp/cleave_NAME.XXXXXX), set traps
#   start_server MODEL [ARGS...]  serve MODEL on 127.0.0.1:$port (more
#                         `cleave serve` options after it); $srv its pid
#   stop_server           stop it
srv=
eval_cleanup() {
  stop_server
  rm -rf "$work"
}
eval_init() {
  work=$(mktemp -d "/tmp/cleave_$1.XXXXXX")
  trap eval_cleanup EXIT
  trap 'exit 130' INT TERM
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start_server() {
  port=$(free_port)
  "$cleave" serve --model "$1" --listen "127.0.0.1:$port" --quiet \
    --profile-runs 0 "${@:2}" 2>"$work/serve.log" &
  srv=$!
  for _ in $(seq 1 100); do
    grep -q "on port" "$work/serve.log" 2>/dev/null && return 0
    kill -0 "$srv" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.1
  done
}
stop_server() {
  [ -z "$srv" ] || kill "$srv" 2>/dev/null || true
  [ -z "$srv" ] || wait "$srv" 2>/dev/null || true
  srv=
}
