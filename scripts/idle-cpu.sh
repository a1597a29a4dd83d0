#!/bin/sh
# idle-cpu.sh — the idle CPU of edgeagent builds, side by side in one run.
#
#   scripts/idle-cpu.sh SECONDS BINARY [BINARY…]
#
# For each binary, at the same time (so they share the machine's load):
#   demo        `edgeagent demo --port P`: the agent and its embedded broker
#   demo-agent  `edgeagent demo --broker …`: the agent alone, on a mosquitto of its own
#   run-system  `edgeagent run` with only the system device, on that mosquitto
# and, as the floor in the same run, an idle `mosquitto_sub` on one of the brokers.
# Each is left 3 s to start, then measured over SECONDS: the time its threads
# spent on a CPU, summed from /proc/<pid>/task/*/schedstat in nanoseconds
# (utime+stime in /proc/<pid>/stat counts 10 ms ticks, too coarse for an idle
# process; it is printed beside), as a share of one core. Needs mosquitto and
# mosquitto_sub on the PATH.
set -eu
secs=$1; shift
work=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
hz=$(getconf CLK_TCK)
port=$((20000 + $$ % 20000))
i=0
for bin in "$@"; do
	i=$((i + 1)); d="$work/$i"; mkdir -p "$d/demo" "$d/run"
	mport=$((port + 10 * i)); dport=$((mport + 1))
	printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mport" >"$d/mosquitto.conf"
	mosquitto -c "$d/mosquitto.conf" >/dev/null 2>&1 & pids="$pids $!"
	sleep 0.5
	printf 'mqtt: {brokers: ["tcp://127.0.0.1:%s"], node_id: sys%s}\nstate_dir: %s/run\ndevices:\n  - {name: host, type: system}\n' \
		"$mport" "$i" "$d" >"$d/run.yaml"
	"$bin" demo --port "$dport" --state-dir "$d/demo-embedded" >/dev/null 2>&1 & pids="$pids $!"; echo "$! $i demo" >>"$work/procs"
	"$bin" demo --broker "tcp://127.0.0.1:$mport" --state-dir "$d/demo" >/dev/null 2>&1 & pids="$pids $!"; echo "$! $i demo-agent" >>"$work/procs"
	"$bin" run --config "$d/run.yaml" >/dev/null 2>&1 & pids="$pids $!"; echo "$! $i run-system" >>"$work/procs"
done
mosquitto_sub -p $((port + 10)) -t 'nothing/#' >/dev/null 2>&1 & pids="$pids $!"; echo "$! 0 mosquitto_sub" >>"$work/procs"
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
while read -r pid n what; do echo "$pid $n $what $(ticks "$pid") $(ns "$pid")"; done <"$work/procs" >"$work/start"
t0=$(date +%s.%N)
sleep "$secs"
t1=$(date +%s.%N)
while read -r pid n what c0 n0; do
	c1=$(ticks "$pid") n1=$(ns "$pid")
	bin=sub; [ "$n" -gt 0 ] && bin=$(eval echo "\${$n}")
	awk -v c0="$c0" -v c1="$c1" -v n0="$n0" -v n1="$n1" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v w="$what" -v b="$bin" \
		'BEGIN { printf "%-13s %-28s %6.3f %% of a core  (stat: %d ticks of %d ms in %.0f s)\n", w, b, 100 * (n1 - n0) / 1e9 / (t1 - t0), c1 - c0, 1000 / hz, t1 - t0 }'
done <"$work/start"
