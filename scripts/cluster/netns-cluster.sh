# A Slurm cluster of N "nodes" on one machine (source it; needs root): every node is a network namespace with
# its own address on a bridge (veth pairs), its own hostname (a UTS namespace) and its own slurmd (spool, log
# and pid file per node name); slurmctld and munged run on the host side of the bridge. The file system is
# shared by all nodes, like a cluster's parallel file system. tc netem can shape each node's link; on a kernel
# without sch_netem, CLUSTER_LINK=switch joins the nodes through a user-space switch that delays and rate-limits
# (delay_switch.c beside this script; docs/cluster.md "No netem here").
#
#   source scripts/cluster/netns-cluster.sh
#   cluster_up 3            # nodes cbn1..cbn3 at 10.$CLUSTER_NET.11.., controller at 10.$CLUSTER_NET.1
#   cluster_netem 1gbit 200us
#   ...sbatch / srun (SLURM_CONF is exported)...
#   cluster_down            # also installed as an EXIT trap by cluster_up
#
# Settings (environment): CLUSTER_NET (second octet of the 10.x.0.0/24 subnet; 77), CLUSTER_PREFIX (name prefix
# of namespaces, veths and the bridge; cbn), CLUSTER_CTLD_PORT (6917), CLUSTER_TMP (state directory; a fresh one
# under /tmp), CLUSTER_CPU_SHARE (cores each node may use, e.g. 0.6; empty: no limit), CLUSTER_LINK (veth: veth
# pairs on a Linux bridge, shaped by tc; switch: every node's eth0 is a TAP of delay_switch, which also carries the
# host side's address on a TAP named like the bridge; auto: veth where the kernel has sch_netem, switch otherwise;
# decided at cluster_up). Everything made here is removed by
# cluster_down: namespaces, links, daemons (the switch included), CPU cgroups, the state directory.
#
# Why a CPU share: the nodes share this machine's cores. Without a limit a node computes faster while the others
# wait (a pipeline's fill and drain) than while all compute, so no single device rate describes it. With every
# node capped at a share whose sum fits the machine (3 x 0.6 on 2 cores), each node runs at one fixed rate
# whatever the others do, as separate nodes would; their high CPU weight keeps other work on the machine from
# slowing them down.

CLUSTER_NET=${CLUSTER_NET:-77}
CLUSTER_PREFIX=${CLUSTER_PREFIX:-cbn}
CLUSTER_CTLD_PORT=${CLUSTER_CTLD_PORT:-6917}
CLUSTER_LINK=${CLUSTER_LINK:-veth}
CLUSTER_SUBNET="10.$CLUSTER_NET.0.0/24"
CLUSTER_BRIDGE="${CLUSTER_PREFIX}br"
CLUSTER_HOST_ADDR="10.$CLUSTER_NET.0.1"
CLUSTER_NODES=()
_cluster_pids=()
_cluster_cgroups=()
_cluster_switch_pid=
# The switch's frames: large, so that a 10 Gbit/s stream is ~20,000 frames a second for the user-space switch.
CLUSTER_SWITCH_MTU=${CLUSTER_SWITCH_MTU:-65000}

# cluster_node_addr I: the address of node I (1-based).
cluster_node_addr() { echo "10.$CLUSTER_NET.0.$((10 + $1))"; }

cluster_log() { echo "cluster: $*" >&2; }

# cluster_exec NODE COMMAND...: run a command on a node (its namespace and hostname).
cluster_exec() {
  local node=$1
  shift
  # nsenter, not `ip netns exec`: the latter remounts /sys, hiding /sys/fs/cgroup, which slurmd needs. A node's
  # PMIx client directory ($CLUSTER_TMP/pmix) is node-local, as /tmp is on a real node: a private bind mount.
  mkdir -p "$CLUSTER_TMP/pmix" "$CLUSTER_TMP/node-local/$node"
  # The command joins the node's CPU cgroup (when CLUSTER_CPU_SHARE is set) before entering the namespaces, so
  # everything it starts (a slurmd's job steps and their ranks) inherits the node's CPU share.
  sh -c '[ -z "$0" ] || echo $$ >"$0/cgroup.procs" || exit 1; exec "$@"' "$(_cluster_cgroup "$node")" \
    nsenter --net="/run/netns/$node" unshare --uts --mount --propagation private sh -c \
    'hostname "$0" && mount --bind "$1/node-local/$0" "$1/pmix" && shift && exec "$@"' "$node" "$CLUSTER_TMP" "$@"
}

# _cluster_cgroup NODE: the node's CPU cgroup directory, empty when CLUSTER_CPU_SHARE is not set.
_cluster_cgroup() {
  [[ -n "${CLUSTER_CPU_SHARE:-}" ]] || return 0
  if [[ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]]; then
    echo "/sys/fs/cgroup/cpu/${CLUSTER_PREFIX}-$1"
  else
    echo "/sys/fs/cgroup/${CLUSTER_PREFIX}-$1"
  fi
}

# _cluster_cpu_limit NODE: create the node's cgroup with CLUSTER_CPU_SHARE cores (cgroup v1 cpu controller, or v2
# cpu.max) over the shortest period the kernel takes (a quota of at least 1 ms: 1.67 ms periods for 0.6 cores), so
# that even a few milliseconds' work runs at the share's rate, not at a whole core's or stalled, and the highest CPU weight, so that other work on the machine (builds, other jobs)
# takes only what the nodes leave and a node's rate stays fixed.
_cluster_cpu_limit() {
  local dir quota period
  dir=$(_cluster_cgroup "$1")
  [[ -n "$dir" ]] || return 0
  read -r period quota < <(awk -v s="$CLUSTER_CPU_SHARE" 'BEGIN {
    if (s != s + 0 || s < 0.01) exit 1
    if (s >= 1) print 1000, int(s * 1000); else print int(1000 / s), 1000 }') || {
    cluster_log "CLUSTER_CPU_SHARE=$CLUSTER_CPU_SHARE: expected cores per node, at least 0.01"
    return 1
  }
  mkdir -p "$dir" || return 1
  _cluster_cgroups+=("$dir")
  if [[ -f "$dir/cpu.cfs_quota_us" ]]; then
    echo "$period" >"$dir/cpu.cfs_period_us" && echo "$quota" >"$dir/cpu.cfs_quota_us" && echo 262144 >"$dir/cpu.shares"
  else
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu >/sys/fs/cgroup/cgroup.subtree_control
    echo "$quota $period" >"$dir/cpu.max" && echo 10000 >"$dir/cpu.weight"
  fi || {
    cluster_log "could not limit $1 to $CLUSTER_CPU_SHARE cores ($dir)"
    return 1
  }
}

_cluster_network_up() {
  local n=$1 i node
  if [[ "$CLUSTER_LINK" == switch ]]; then
    _cluster_switch_network_up "$n"
    return
  fi
  [[ "$CLUSTER_LINK" == veth ]] || {
    cluster_log "CLUSTER_LINK=$CLUSTER_LINK: expected veth or switch"
    return 1
  }
  ip link add "$CLUSTER_BRIDGE" type bridge
  ip addr add "$CLUSTER_HOST_ADDR/24" dev "$CLUSTER_BRIDGE"
  ip link set "$CLUSTER_BRIDGE" up
  for i in $(seq 1 "$n"); do
    node="${CLUSTER_PREFIX}$i"
    ip netns add "$node"
    ip link add "${node}h" type veth peer name eth0 netns "$node"
    ip link set "${node}h" master "$CLUSTER_BRIDGE" up
    ip -n "$node" addr add "$(cluster_node_addr "$i")/24" dev eth0
    ip -n "$node" link set eth0 up
    ip -n "$node" link set lo up
    CLUSTER_NODES+=("$node")
  done
}

# _cluster_switch_network_up N: the namespaces, joined by delay_switch (compiled into $CLUSTER_TMP on first use):
# it creates each node's eth0 as a TAP inside the node's namespace and the host side's TAP ($CLUSTER_BRIDGE, which
# carries the controller's address), and forwards between them, unshaped until cluster_netem. The TAPs are not
# persistent: they vanish with the switch. It runs in a CPU cgroup of its own with the highest weight and no
# quota, as a SCHED_FIFO task where the kernel allows one (else at nice -10), since its timing is the link's.
_cluster_switch_network_up() {
  local n=$1 i node ports=("-:$CLUSTER_BRIDGE") binary=$CLUSTER_TMP/delay_switch cgroup
  local source_file
  source_file="$(dirname "${BASH_SOURCE[0]}")/delay_switch.c"
  [[ -c /dev/net/tun ]] || {
    cluster_log "CLUSTER_LINK=switch needs /dev/net/tun"
    return 1
  }
  if [[ ! -x "$binary" ]]; then
    cc -O2 -Wall -Wextra -Werror -o "$binary" "$source_file" || {
      cluster_log "could not compile $source_file"
      return 1
    }
  fi
  for i in $(seq 1 "$n"); do
    node="${CLUSTER_PREFIX}$i"
    ip netns add "$node"
    ip -n "$node" link set lo up
    CLUSTER_NODES+=("$node")
    ports+=("/run/netns/$node:eth0")
  done
  echo "0 0" >"$CLUSTER_TMP/switch.settings"
  rm -f "$CLUSTER_TMP/switch.ready"
  if [[ -f /sys/fs/cgroup/cpu/cpu.shares ]]; then
    cgroup=/sys/fs/cgroup/cpu/${CLUSTER_PREFIX}-switch
    mkdir -p "$cgroup" && echo 262144 >"$cgroup/cpu.shares" || cgroup=
    # Real-time group scheduling (where built): 90 % of a core at most for the switch's SCHED_FIFO.
    [[ -z "$cgroup" || ! -f "$cgroup/cpu.rt_runtime_us" ]] || echo 900000 >"$cgroup/cpu.rt_runtime_us" || true
  elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    cgroup=/sys/fs/cgroup/${CLUSTER_PREFIX}-switch
    { grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control || echo +cpu >/sys/fs/cgroup/cgroup.subtree_control; } &&
      mkdir -p "$cgroup" && echo 10000 >"$cgroup/cpu.weight" || cgroup=
  fi
  [[ -z "$cgroup" ]] || _cluster_cgroups+=("$cgroup")
  # SCHED_FIFO where allowed: a frame's wake-up must not wait behind the nodes' time slices (milliseconds under
  # CFS on a loaded machine); else nice -10.
  sh -c '[ -z "$0" ] || echo $$ >"$0/cgroup.procs" || exit 1
    if chrt -f 50 true 2>/dev/null; then exec chrt -f 50 "$@"; else exec nice -n -10 "$@"; fi' "$cgroup" \
    "$binary" --settings "$CLUSTER_TMP/switch.settings" --ready "$CLUSTER_TMP/switch.ready" "${ports[@]}" \
    2>>"$CLUSTER_TMP/switch.log" &
  _cluster_switch_pid=$!
  local _
  for _ in $(seq 1 50); do
    [[ -e "$CLUSTER_TMP/switch.ready" ]] && break
    kill -0 "$_cluster_switch_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -e "$CLUSTER_TMP/switch.ready" ]] || {
    cluster_log "delay_switch did not start: $(tail -n 3 "$CLUSTER_TMP/switch.log")"
    return 1
  }
  ip link set "$CLUSTER_BRIDGE" mtu "$CLUSTER_SWITCH_MTU" up
  ip addr add "$CLUSTER_HOST_ADDR/24" dev "$CLUSTER_BRIDGE"
  for i in $(seq 1 "$n"); do
    node="${CLUSTER_PREFIX}$i"
    ip -n "$node" link set eth0 mtu "$CLUSTER_SWITCH_MTU" up
    ip -n "$node" addr add "$(cluster_node_addr "$i")/24" dev eth0
  done
  cluster_log "nodes joined by delay_switch (pid $_cluster_switch_pid, MTU $CLUSTER_SWITCH_MTU)"
}

# _cluster_switch_down: stop the switch (its TAPs go with it) and print its counters.
_cluster_switch_down() {
  [[ -n "$_cluster_switch_pid" ]] || return 0
  kill "$_cluster_switch_pid" 2>/dev/null || true
  wait "$_cluster_switch_pid" 2>/dev/null || true
  _cluster_switch_pid=
  # The last counters (one line per port and the timing line): those printed at exit.
  grep -h '^delay_switch: \(port\|frames\)' "$CLUSTER_TMP/switch.log" 2>/dev/null |
    tail -n $((${#CLUSTER_NODES[@]} + 2)) >&2 || true
}

# _cluster_bits_per_s RATE (e.g. 10gbit, 250mbit) and _cluster_ns DELAY (e.g. 200us, 1ms, 0): numbers for the switch.
_cluster_bits_per_s() {
  awk -v r="$1" 'BEGIN { m = match(r, /^[0-9.]+/); if (!m) exit 1; v = substr(r, 1, RLENGTH); u = substr(r, RLENGTH + 1)
    f = (u == "gbit") ? 1e9 : (u == "mbit") ? 1e6 : (u == "kbit") ? 1e3 : (u == "bit" || u == "") ? 1 : -1
    if (f < 0) exit 1; printf "%.0f\n", v * f }'
}
_cluster_ns() {
  awk -v d="$1" 'BEGIN { m = match(d, /^[0-9.]+/); if (!m) exit 1; v = substr(d, 1, RLENGTH); u = substr(d, RLENGTH + 1)
    f = (u == "s") ? 1e9 : (u == "ms") ? 1e6 : (u == "us") ? 1e3 : (u == "ns" || u == "") ? 1 : -1
    if (f < 0) exit 1; printf "%.0f\n", v * f }'
}

# cluster_netem RATE [DELAY]: shape every node's link (the node's eth0 and its bridge port, so both directions), e.g.
# `cluster_netem 1gbit 200us`: a message between two nodes then takes DELAY one way plus its size at RATE. With
# tc netem, each of the two shaped links a message crosses adds DELAY/2. Kernels without sch_netem (this CI's VM
# kernel has none, nor sch_fq) get a token bucket (tbf) at RATE and no added delay (the latency is then the
# namespaces' own, which `cbednet bench --network` measures) unless the cluster was started with
# CLUSTER_LINK=switch: then delay_switch applies RATE and DELAY (see _cluster_switch_network_up). `cluster_netem
# off` removes the shaping (the switch then forwards unshaped). Prints what it applied.
cluster_netem() {
  local rate=$1 delay=${2:-0us} node half_us qdisc
  if [[ "$CLUSTER_LINK" == switch ]]; then
    local bits=0 ns=0
    if [[ "$rate" != off ]]; then
      if ! bits=$(_cluster_bits_per_s "$rate") || ! ns=$(_cluster_ns "$delay"); then
        cluster_log "cluster_netem $rate $delay: expected a rate such as 1gbit and a delay such as 200us"
        return 1
      fi
    fi
    echo "$bits $ns" >"$CLUSTER_TMP/switch.settings.new" &&
      mv "$CLUSTER_TMP/switch.settings.new" "$CLUSTER_TMP/switch.settings"
    kill -HUP "$_cluster_switch_pid" || return 1
    sleep 0.1 # the switch prints how late frames left under the setting that ends
    grep -h '^delay_switch: frames sent late' "$CLUSTER_TMP/switch.log" | tail -n 1 |
      sed 's/^delay_switch: /cluster: previous setting: /' >&2 || true
    cluster_log "links shaped by delay_switch: $bits bit/s, one-way delay $ns ns"
    return 0
  fi
  half_us=$(($(echo "$delay" | tr -dc 0-9) / 2))
  for node in "${CLUSTER_NODES[@]}"; do
    tc -n "$node" qdisc del dev eth0 root 2>/dev/null || true
    tc qdisc del dev "${node}h" root 2>/dev/null || true
  done
  [[ "$rate" == off ]] && return 0
  if tc -n "${CLUSTER_NODES[0]}" qdisc add dev eth0 root netem delay "${half_us}us" rate "$rate" limit 100000 \
    2>/dev/null; then
    qdisc=(netem delay "${half_us}us" rate "$rate" limit 100000)
    tc -n "${CLUSTER_NODES[0]}" qdisc del dev eth0 root
  else
    # Burst: a millisecond of traffic (the timer granularity), at least 64 KiB.
    local bits per_ms
    bits=$(echo "$rate" | sed -E 's/gbit$/000000000/; s/mbit$/000000/; s/kbit$/000/; s/bit$//')
    per_ms=$((bits / 8 / 1000))
    ((per_ms >= 65536)) || per_ms=65536
    qdisc=(tbf rate "$rate" burst "$per_ms" latency 200ms)
    ((half_us == 0)) ||
      cluster_log "no sch_netem in this kernel: shaping $rate without the ${delay} delay (CLUSTER_LINK=switch applies it)"
  fi
  for node in "${CLUSTER_NODES[@]}"; do
    tc -n "$node" qdisc add dev eth0 root "${qdisc[@]}"
    tc qdisc add dev "${node}h" root "${qdisc[@]}"
  done
  cluster_log "links shaped: ${qdisc[*]}"
}

# cluster_has_netem: whether this kernel has sch_netem (tried on the loopback of a scratch namespace).
cluster_has_netem() {
  local probe="${CLUSTER_PREFIX}probe$$" rc=0
  ip netns add "$probe" || return 1
  tc -n "$probe" qdisc add dev lo root netem delay 1us 2>/dev/null || rc=1
  ip netns del "$probe"
  return "$rc"
}

_cluster_write_conf() {
  local n=$1 cpus=$2 node i nodes_csv
  nodes_csv=$(
    IFS=,
    echo "${CLUSTER_NODES[*]}"
  )
  cat >"$CLUSTER_TMP/slurm.conf" <<CONF
ClusterName=cbednet-netns
SlurmctldHost=$(hostname -s)($CLUSTER_HOST_ADDR)
SlurmctldPort=$CLUSTER_CTLD_PORT
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$CLUSTER_TMP/munge/munge.socket
SlurmUser=root
SlurmdUser=root
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobRequeue=1
EnforcePartLimits=ALL
ReturnToService=2
SlurmdTimeout=10
MessageTimeout=5
KillWait=5
StateSaveLocation=$CLUSTER_TMP/state
SlurmdSpoolDir=$CLUSTER_TMP/spool/%n
SlurmctldPidFile=$CLUSTER_TMP/slurmctld.pid
SlurmdPidFile=$CLUSTER_TMP/slurmd.%n.pid
SlurmctldLogFile=$CLUSTER_TMP/slurmctld.log
SlurmdLogFile=$CLUSTER_TMP/slurmd.%n.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
Epilog=$CLUSTER_TMP/epilog.sh
TmpFS=$CLUSTER_TMP/tmpfs
GresTypes=gpu
CONF
  # One "GPU" per node, a count without a device file: enough for --gpus-per-node and SLURM_GPUS_ON_NODE in the
  # job scripts' grid checks; nothing runs on it.
  echo "Name=gpu File=/dev/null" >"$CLUSTER_TMP/gres.conf"
  for i in $(seq 1 "$n"); do
    echo "NodeName=${CLUSTER_PREFIX}$i NodeAddr=$(cluster_node_addr "$i") CPUs=$cpus Gres=gpu:1 State=UNKNOWN" >>"$CLUSTER_TMP/slurm.conf"
  done
  echo "PartitionName=cluster Nodes=$nodes_csv Default=YES MaxNodes=$n MaxTime=INFINITE State=UP" >>"$CLUSTER_TMP/slurm.conf"
  # As scripts/ci-slurm.sh: Slurm 22.05's PMIx plugin leaves a signalled step's directories behind, and a requeued
  # job reuses its job and step ids.
  cat >"$CLUSTER_TMP/epilog.sh" <<EPILOG
#!/bin/sh
rm -rf "$CLUSTER_TMP/spool/"*"/pmix.\$SLURM_JOB_ID."* "$CLUSTER_TMP/spool/"*"/stepd.slurm.pmix.\$SLURM_JOB_ID."* \
  "$CLUSTER_TMP/pmix/spmix_appdir_"*"_\$SLURM_JOB_ID."*
exit 0
EPILOG
  chmod +x "$CLUSTER_TMP/epilog.sh"
  echo "PMIxCliTmpDirBase=$CLUSTER_TMP/pmix" >"$CLUSTER_TMP/mpi.conf"
}

_cluster_munge_up() {
  mkdir -p "$CLUSTER_TMP/munge"
  chmod 0700 "$CLUSTER_TMP/munge"
  dd if=/dev/urandom of="$CLUSTER_TMP/munge/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$CLUSTER_TMP/munge/munge.key"
  munged --foreground --force --socket="$CLUSTER_TMP/munge/munge.socket" --key-file="$CLUSTER_TMP/munge/munge.key" \
    --pid-file="$CLUSTER_TMP/munge/munged.pid" --log-file="$CLUSTER_TMP/munge/munged.log" \
    --seed-file="$CLUSTER_TMP/munge/munged.seed" >>"$CLUSTER_TMP/munge/munged.out" 2>&1 &
  _cluster_pids+=($!)
  local _
  for _ in $(seq 1 50); do
    [[ -S "$CLUSTER_TMP/munge/munge.socket" ]] && return 0
    sleep 0.1
  done
  cluster_log "munged did not start"
  cat "$CLUSTER_TMP/munge/munged.out" "$CLUSTER_TMP/munge/munged.log" >&2 2>/dev/null
  return 1
}

# cluster_start_slurmd NODE: start (or restart) the slurmd of one node.
cluster_start_slurmd() {
  local node=$1
  mkdir -p "$CLUSTER_TMP/spool/$node"
  cluster_exec "$node" slurmd -D -N "$node" -f "$SLURM_CONF" >>"$CLUSTER_TMP/slurmd.$node.out" 2>&1 &
  _cluster_pids+=($!)
  eval "_cluster_slurmd_${node}=$!"
}

# cluster_slurmd_pid NODE: the pid of the node's slurmd launcher (ip netns exec -> unshare -> slurmd; one process
# after the execs).
cluster_slurmd_pid() {
  local var="_cluster_slurmd_$1"
  echo "${!var}"
}

# cluster_restore_node NODE: bring a lost node back as a reboot would: whatever still runs in its namespace is
# ended, its node-local directories are emptied, its slurmd restarts (ReturnToService=2 returns it to service).
cluster_restore_node() {
  local node=$1 pid
  for pid in $(ip netns pids "$node" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  sleep 0.5
  rm -rf "${CLUSTER_TMP:?}/node-local/$node" "${CLUSTER_TMP:?}/spool/$node"
  cluster_start_slurmd "$node"
  local _
  for _ in $(seq 1 100); do
    sinfo -h -n "$node" -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)$' && return 0
    sleep 0.2
  done
  cluster_log "$node did not come back: $(sinfo -h -n "$node" -o '%T %E')"
  return 1
}

# cluster_wait_idle COUNT [SECONDS]: wait until COUNT nodes are idle.
cluster_wait_idle() {
  local want=$1 limit=${2:-30} _
  for _ in $(seq 1 $((limit * 5))); do
    (($(sinfo -h -N -o '%T' 2>/dev/null | grep -cx 'idle') >= want)) && return 0
    sleep 0.2
  done
  sinfo -N -o '%N %T %E' >&2 || true
  return 1
}

# cluster_up N [CPUS_PER_NODE]: build the network, start munged, slurmctld and N slurmds; exports SLURM_CONF.
cluster_up() {
  local n=$1 cpus=${2:-1} node
  [[ $(id -u) -eq 0 ]] || {
    cluster_log "must run as root (namespaces, SlurmUser=root)"
    return 1
  }
  if ip netns list | grep -qE "^${CLUSTER_PREFIX}[0-9]+\b" || ip link show "$CLUSTER_BRIDGE" >/dev/null 2>&1; then
    cluster_log "namespace ${CLUSTER_PREFIX}N or bridge $CLUSTER_BRIDGE exists already (another cluster running?); set CLUSTER_PREFIX/CLUSTER_NET"
    return 1
  fi
  CLUSTER_TMP=${CLUSTER_TMP:-$(mktemp -d /tmp/cbednet-cluster.XXXXXX)}
  chmod 0755 "$CLUSTER_TMP"
  mkdir -p "$CLUSTER_TMP/state" "$CLUSTER_TMP/spool" "$CLUSTER_TMP/tmpfs" "$CLUSTER_TMP/pmix"
  trap cluster_down EXIT
  if [[ "$CLUSTER_LINK" == auto ]]; then
    if cluster_has_netem; then CLUSTER_LINK=veth; else CLUSTER_LINK=switch; fi
    cluster_log "CLUSTER_LINK=auto: $CLUSTER_LINK (sch_netem $([[ $CLUSTER_LINK == veth ]] && echo found || echo missing))"
  fi
  _cluster_network_up "$n" || return 1
  for node in "${CLUSTER_NODES[@]}"; do _cluster_cpu_limit "$node" || return 1; done
  [[ -z "${CLUSTER_CPU_SHARE:-}" ]] || cluster_log "each node limited to $CLUSTER_CPU_SHARE cores"
  _cluster_write_conf "$n" "$cpus"
  export SLURM_CONF=$CLUSTER_TMP/slurm.conf
  _cluster_munge_up
  slurmctld -D -i -f "$SLURM_CONF" >>"$CLUSTER_TMP/slurmctld.out" 2>&1 &
  _cluster_pids+=($!)
  for node in "${CLUSTER_NODES[@]}"; do cluster_start_slurmd "$node"; done
  if ! cluster_wait_idle "$n" 30; then
    cluster_log "the $n nodes did not come up"
    tail -n 20 "$CLUSTER_TMP"/slurm*.log >&2 2>/dev/null || true
    return 1
  fi
  cluster_log "$n nodes up: $(sinfo -h -N -o '%N(%T)' | tr '\n' ' ')"
}

# cluster_down: stop the daemons this shell started (by pid), remove the namespaces, links and state.
cluster_down() {
  local rc=$? pid node
  for pid in "${_cluster_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${_cluster_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  _cluster_switch_down
  # Job steps (slurmstepd and its tasks) outlive their slurmd: end what still runs inside our namespaces.
  for node in $(ip netns list | awk -v p="^${CLUSTER_PREFIX}[0-9]+\$" '$1 ~ p {print $1}'); do
    for pid in $(ip netns pids "$node" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip link del "${node}h" 2>/dev/null || true
    ip netns del "$node" || cluster_log "could not remove namespace $node"
  done
  # A deleted namespace is destroyed asynchronously; its veth's host side may outlive it for a moment.
  for node in $(ip -br link | awk -v p="^${CLUSTER_PREFIX}[0-9]+h@" '$1 ~ p {sub(/@.*/, "", $1); print $1}'); do
    ip link del "$node" 2>/dev/null || true
  done
  ip link del "$CLUSTER_BRIDGE" 2>/dev/null || true
  # A killed task leaves its cgroup once it is reaped: retry for up to 2 s.
  local dir _
  for dir in "${_cluster_cgroups[@]}"; do
    for _ in $(seq 1 20); do
      rmdir "$dir" 2>/dev/null && break
      sleep 0.1
    done
    [[ ! -d "$dir" ]] || cluster_log "could not remove cgroup $dir"
  done
  _cluster_cgroups=()
  if ((rc != 0)) && [[ -n "${CLUSTER_TMP:-}" ]]; then
    cluster_log "exit $rc; daemon logs:"
    tail -n 15 "$CLUSTER_TMP"/slurmctld.log "$CLUSTER_TMP"/slurmd.*.log >&2 2>/dev/null || true
  fi
  [[ -n "${CLUSTER_KEEP_TMP:-}" || -z "${CLUSTER_TMP:-}" ]] || rm -rf "$CLUSTER_TMP"
  CLUSTER_NODES=()
  _cluster_pids=()
  trap - EXIT
  return "$rc"
}
