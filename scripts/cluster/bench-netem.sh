#!/usr/bin/env bash
# The planner's network model against a network: on the 3-node namespace cluster (netns-cluster.sh), with every
# node's link shaped (tc netem; delay_switch where the kernel has no netem: CLUSTER_LINK=auto) at each of SETTINGS
# ("RATE DELAY"; default "10gbit 20us;1gbit 200us"), measure
#   - point-to-point latency/bandwidth and allreduce times between the nodes (`cbednet bench --network`),
#   - the step time of a small model trained data-parallel (1x3) and as a pipeline (3x1) across the 3 nodes
#     (`cbednet bench --grid`, median of REPEATS runs),
# and ask the planner for the same steps (`cbednet plan --costs <device> --calibrate-network <that setting's
# network_link line>`). Every node is capped at CLUSTER_CPU_SHARE cores (default 0.6: 3 nodes fit the 2 cores;
# netns-cluster.sh says why), so a node computes at one rate whether or not the others do. The device rate is
# calibrated per setting, just before it, on 3 concurrent single-rank benchmarks (one per node), which with the
# cap equals any node's rate alone.
# Writes OUT/{device-*.jsonl, network-*.jsonl, steps.jsonl, plan-*.json} and OUT/table.{csv,json} + OUT/table.png
# (scripts/cluster/netem_table.py).
#   bash scripts/cluster/bench-netem.sh [cbednet] [OUT]     (root; ~5 min on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cbednet=$(realpath "${1:-$root/build/bin/cbednet}")
out=$(realpath -m "${2:-$root/bench/results/cluster-netem-2core}")
repeats=${REPEATS:-3}
# SETTINGS: ';'-separated "RATE DELAY" pairs. The delay needs sch_netem or CLUSTER_LINK=switch (the default here
# where sch_netem is missing).
IFS=';' read -r -a settings <<<"${SETTINGS:-10gbit 20us;1gbit 200us}"
model=(--arch resnet18 --size 64)
batch=12
mkdir -p "$out"
export CLUSTER_CPU_SHARE=${CLUSTER_CPU_SHARE-0.6}
# Without sch_netem the nodes are joined by delay_switch, which applies the delay (netns-cluster.sh).
export CLUSTER_LINK=${CLUSTER_LINK:-auto}
# shellcheck source=scripts/cluster/netns-cluster.sh
source "$root/scripts/cluster/netns-cluster.sh"
cluster_up 3 1
export OMPI_MCA_btl_tcp_if_include=$CLUSTER_SUBNET OMPI_MCA_oob_tcp_if_include=$CLUSTER_SUBNET
# Ranks waiting in MPI yield the core: the 3 "nodes" share this machine's cores, and a spinning rank would otherwise
# hold a core its peer needs to answer (a ping-pong then costs a scheduler time slice, ~4 ms, not the link's latency).
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive OMPI_MCA_mpi_yield_when_idle=1

# run3 OUTFILE ARGS...: `srun -N 3 -n 3 cbednet ARGS`, rank 0's JSON lines appended to OUTFILE; one retry (Open MPI
# 4.1's TCP connection setup crashes now and then on this loaded machine; docs/cluster.md).
run3() {
  local file=$1
  shift
  local try
  for try in 1 2; do
    if srun -N 3 -n 3 --overcommit --time=5 "$cbednet" "$@" >"$out/.run.out" 2>"$out/.run.err"; then
      grep '^{' "$out/.run.out" >>"$file"
      return 0
    fi
    echo "bench-netem: try $try of 'cbednet $*' failed: $(tail -n 3 "$out/.run.err" | tr '\n' ' ')" >&2
  done
  return 1
}

# calibrate_device TAG: 3 concurrent single-rank steps at batch 4 (a 1x3 replica's share), REPEATS times, right
# before the setting's measurements (the machine's load drifts); the median line is the calibration point.
calibrate_device() {
  local tag=$1 node pids pid
  : >"$out/device-$tag.jsonl"
  for _ in $(seq 1 "$repeats"); do
    pids=()
    for node in "${CLUSTER_NODES[@]}"; do
      cluster_exec "$node" "$cbednet" bench "${model[@]}" --batch 4 --steps 4 --warmup 1 --quiet >"$out/.dev.$node" &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    cat "$out"/.dev.* | grep '^{' >>"$out/device-$tag.jsonl"
    rm -f "$out"/.dev.*
  done
  /usr/bin/python3 - "$out/device-$tag.jsonl" "$out/device-$tag-median.json" <<'PY'
import json, sys
rows = sorted((json.loads(l) for l in open(sys.argv[1]) if l.strip()), key=lambda r: r["ms_per_step"])
open(sys.argv[2], "w").write(json.dumps(rows[len(rows) // 2]) + "\n")
PY
}

: >"$out/steps.jsonl"
for setting in "${settings[@]}"; do
  read -r rate delay <<<"$setting"
  tag="${rate}-${delay}"
  echo "bench-netem: netem $rate $delay"
  cluster_netem "$rate" "$delay"
  echo "bench-netem: device calibration"
  calibrate_device "$tag"
  : >"$out/network-$tag.jsonl"
  run3 "$out/network-$tag.jsonl" bench --network --steps 2
  for _ in $(seq 1 "$repeats"); do
    for grid in "1x3 4" "3x1 2"; do
      read -r g micro <<<"$grid"
      run3 "$out/.step.jsonl" bench "${model[@]}" --grid "$g" --batch "$batch" --micro-batch-size "$micro" \
        --steps 4 --warmup 1 --quiet
      tail -n 1 "$out/.step.jsonl" | sed "s/^{/{\"netem\": \"$rate $delay\", \"grid\": \"$g\", /" >>"$out/steps.jsonl"
    done
  done
  "$cbednet" plan "${model[@]}" --nodes 3 --gpus-per-node 1 --batch "$batch" --costs "$out/device-$tag-median.json" \
    --calibrate-network "$out/network-$tag.jsonl" --activation-bytes 4 --block-overhead-us 50 --json --top 1000 \
    >"$out/plan-$tag.json"
done
cluster_netem off
rm -f "$out/.run.out" "$out/.run.err" "$out/.step.jsonl"
/usr/bin/python3 "$root/scripts/cluster/netem_table.py" "$out"
