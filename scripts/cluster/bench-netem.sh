#!/usr/bin/env bash
# The planner's network model against a network: on the 3-node namespace cluster (netns-cluster.sh), with every
# node's link shaped (tc netem; delay_switch where the kernel has no netem: CLUSTER_LINK=auto) at each of SETTINGS
# ("RATE DELAY"; default "10gbit 20us;1gbit 200us"), measure
#   - point-to-point latency/bandwidth and allreduce times between the nodes (`cbednet bench --network`),
#   - the step time of a small model trained data-parallel (1x3) and as a pipeline (3x1) across the 3 nodes
#     (`cbednet bench --grid`, median of REPEATS runs),
# and ask the planner for the same steps (`cbednet plan --block-times <every block's time on one node>
# --calibrate-network <that setting's network measurements>`; auto transport: mpi, no allreduce overlap). Every
# node is capped at CLUSTER_CPU_SHARE cores (default 0.6: 3 nodes fit the 2 cores; netns-cluster.sh says why), so
# a node computes at one rate whether or not the others do; each block's time is measured per setting, just
# before it, on one node (the median of 25 runs).
# Writes OUT/{blocks-*.json, network-*.jsonl, steps.jsonl, plan-*.json} and OUT/table.{csv,json} + OUT/table.png
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

: >"$out/steps.jsonl"
for setting in "${settings[@]}"; do
  read -r rate delay <<<"$setting"
  tag="${rate}-${delay}"
  echo "bench-netem: netem $rate $delay"
  cluster_netem "$rate" "$delay"
  echo "bench-netem: block times"
  # Every block's forward and backward time on one node at the pipeline's micro-batch (the planner scales them to
  # the data-parallel one): the MAC model does not say how fast this CPU runs each block (docs/cluster.md).
  cluster_exec "${CLUSTER_NODES[0]}" "$cbednet" bench "${model[@]}" --batch 2 --steps 25 --block-times |
    grep '^{' >"$out/blocks-$tag.json"
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
  "$cbednet" plan "${model[@]}" --nodes 3 --gpus-per-node 1 --batch "$batch" --block-times "$out/blocks-$tag.json" \
    --calibrate-network "$out/network-$tag.jsonl" --activation-bytes 4 --json --top 1000 >"$out/plan-$tag.json"
done
cluster_netem off
rm -f "$out/.run.out" "$out/.run.err" "$out/.step.jsonl"
/usr/bin/python3 "$root/scripts/cluster/netem_table.py" "$out"
