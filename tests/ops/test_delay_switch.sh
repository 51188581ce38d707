#!/usr/bin/env bash
# delay_switch (scripts/cluster/delay_switch.c) through netns-cluster.sh's CLUSTER_LINK=switch: two namespaces
# joined by the switch at 1 Gbit/s and 200 us one-way delay must show a UDP round trip of about 2 x 200 us and
# move 20 MB over TCP in about 20 MB / 1 Gbit/s; then at 10 Gbit/s without delay, and unshaped, the throughput it
# reaches is printed. Root only (namespaces, /dev/net/tun): skipped (77) otherwise (after compiling the switch).
# Nothing is left behind (cluster_down).
#   bash tests/ops/test_delay_switch.sh ROOT
set -uo pipefail
root=$1
command -v cc >/dev/null || {
  echo "skipped: no C compiler (cc)"
  exit 77
}
CLUSTER_TMP=$(mktemp -d /tmp/cbednet-delay-switch.XXXXXX)
export CLUSTER_TMP
# It compiles cleanly everywhere (cluster_up compiles it the same way, into CLUSTER_TMP, where it is reused).
if ! cc -O2 -Wall -Wextra -Werror -o "$CLUSTER_TMP/delay_switch" "$root/scripts/cluster/delay_switch.c"; then
  echo "FAIL: delay_switch.c does not compile"
  rm -rf "$CLUSTER_TMP"
  exit 1
fi
if [[ $(id -u) -ne 0 || ! -c /dev/net/tun ]]; then
  echo "skipped: needs root and /dev/net/tun (delay_switch.c compiled)"
  rm -rf "$CLUSTER_TMP"
  exit 77
fi
python=/usr/bin/python3
[[ -x $python ]] || python=python3
# The endpoints run as cluster nodes do: one core each at the top CPU weight (cluster_exec), so that other work
# on the machine (builds, tests in parallel) does not decide the throughput measured.
export CLUSTER_PREFIX=cbt CLUSTER_NET=83 CLUSTER_LINK=switch CLUSTER_CPU_SHARE=1
# shellcheck source=scripts/cluster/netns-cluster.sh
source "$root/scripts/cluster/netns-cluster.sh"
if ip netns list | grep -qE "^${CLUSTER_PREFIX}[0-9]+\b"; then
  echo "FAIL: namespaces ${CLUSTER_PREFIX}N exist already (another run of this test?)"
  rm -rf "$CLUSTER_TMP"
  exit 1
fi
trap cluster_down EXIT
_cluster_network_up 2 || exit 1
_cluster_cpu_limit cbt1 && _cluster_cpu_limit cbt2 || exit 1
failures=0
server_addr=$(cluster_node_addr 2)

cat >"$CLUSTER_TMP/probe.py" <<'PY'
import socket, statistics, sys, time
mode, addr = sys.argv[1], sys.argv[2]
if mode == "udp-echo":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 5001))
    while True:
        data, peer = s.recvfrom(64)
        s.sendto(data, peer)
elif mode == "udp-ping":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    rtts = []
    for i in range(300):
        t = time.perf_counter()
        s.sendto(b"12345678", (addr, 5001))
        s.recvfrom(64)
        rtts.append(time.perf_counter() - t)
    print("%.1f" % (statistics.median(rtts[20:]) * 1e6))
elif mode == "tcp-sink":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 5002))
    s.listen(4)
    while True:
        c, _ = s.accept()
        want = int(c.recv(32).split(b"\n")[0])
        got = 0
        while got < want:
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        c.sendall(b"k")
        c.close()
elif mode == "tcp-send":
    size = int(sys.argv[3])
    c = socket.create_connection((addr, 5002))
    c.sendall(b"%d\n" % size)
    c.recv(0)
    time.sleep(0.05)  # the header alone, before the clock starts
    block = b"x" * (1 << 20)
    t = time.perf_counter()
    sent = 0
    while sent < size:
        n = min(len(block), size - sent)
        c.sendall(block[:n])
        sent += n
    c.recv(1)
    print("%.4f" % (time.perf_counter() - t))
PY
in_ns() { cluster_exec "$@"; }
in_ns cbt2 "$python" "$CLUSTER_TMP/probe.py" udp-echo "$server_addr" &
echo_pid=$!
in_ns cbt2 "$python" "$CLUSTER_TMP/probe.py" tcp-sink "$server_addr" &
sink_pid=$!
sleep 0.5
stop_servers() { kill "$echo_pid" "$sink_pid" 2>/dev/null; wait "$echo_pid" "$sink_pid" 2>/dev/null; }

# check NAME VALUE LOW HIGH
check() {
  if awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }'; then
    echo "ok   $1: $2 (expected $3..$4)"
  else
    echo "FAIL $1: '$2' (expected $3..$4)"
    failures=$((failures + 1))
  fi
}

in_ns cbt1 "$python" "$CLUSTER_TMP/probe.py" udp-ping "$server_addr" >/dev/null # ARP, warm-up
rtt_unshaped=$(in_ns cbt1 "$python" "$CLUSTER_TMP/probe.py" udp-ping "$server_addr")
echo "unshaped switch: UDP round trip ${rtt_unshaped} us (median)"

delay_us=200
cluster_netem 1gbit "${delay_us}us" || failures=$((failures + 1))
rtt=$(in_ns cbt1 "$python" "$CLUSTER_TMP/probe.py" udp-ping "$server_addr")
check "1gbit ${delay_us}us: UDP round trip (us, median)" "$rtt" $((delay_us * 18 / 10)) $((delay_us * 2 + 1000))
kill -USR1 "$_cluster_switch_pid" # the switch's timing during the round trips
sleep 0.2
size=20000000
seconds=$(in_ns cbt1 "$python" "$CLUSTER_TMP/probe.py" tcp-send "$server_addr" "$size")
ideal=$(awk -v s="$size" 'BEGIN { print s * 8 / 1e9 }')
check "1gbit ${delay_us}us: 20 MB over TCP (s; ideal $ideal)" "$seconds" \
  "$(awk -v i="$ideal" 'BEGIN { print i * 0.75 }')" "$(awk -v i="$ideal" 'BEGIN { print i * 1.25 }')"

size=200000000
for setting in "10gbit 0us" "off"; do
  # shellcheck disable=SC2086
  cluster_netem $setting || failures=$((failures + 1))
  seconds=$(in_ns cbt1 "$python" "$CLUSTER_TMP/probe.py" tcp-send "$server_addr" "$size")
  gbps=$(awk -v s="$size" -v t="$seconds" 'BEGIN { printf "%.2f", s * 8 / t / 1e9 }')
  echo "$setting: 200 MB over TCP in ${seconds} s = $gbps Gbit/s (the switch's reach on this machine)"
  [[ -n "$seconds" ]] || failures=$((failures + 1))
done
kill -USR1 "$_cluster_switch_pid"
sleep 0.2
stop_servers || true
cluster_down
leftovers=$(
  ip -br link | awk '{print $1}' | grep -E '^cbtbr'
  ip netns list | grep -E '^cbt[0-9]'
  for dir in /sys/fs/cgroup/cpu/cbt-* /sys/fs/cgroup/cbt-*; do [[ ! -e "$dir" ]] || echo "$dir"; done
)
for leftover in $leftovers; do
  echo "FAIL left behind: $leftover"
  failures=$((failures + 1))
done
[[ ! -d "$CLUSTER_TMP" ]] || {
  echo "FAIL left behind: $CLUSTER_TMP"
  failures=$((failures + 1))
}
echo "$failures failure(s)"
exit $((failures > 0))
