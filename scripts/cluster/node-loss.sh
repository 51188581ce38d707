# A node lost mid-run, on the cluster of scripts/ci-cluster.sh (sourced by it after the grid checks; uses its
# $root, $cbednet, $work and fail): a 1x3 fp64 training on 3 nodes loses node cbn3 after its first periodic
# checkpoint (CI_CLUSTER_FAULT=kill: the node's slurmd, slurmstepd and rank are killed; =link: its link is cut
# with `ip link set down`). The job must end within 30 s with a message naming the lost node, the checkpoints
# written before the loss must be intact, and the job, requeued by Slurm (--requeue, node failure) once the node is
# back, must resume and end with a checkpoint bit-identical to an uninterrupted run's.

fault=${CI_CLUSTER_FAULT:-kill}
echo "== ci-cluster: node cbn3 lost mid-run ($fault), requeue and resume"
loss_env=(CBEDNET="$cbednet" CBEDNET_ROOT="$root" DATA="$work/packed.h5" EPOCHS=3 BATCH=12
  EXTRA="--grid 1x3 --micro-batch-size 2 --precision fp64 --seed 5")
for try in 1 2; do
  rc=0
  env "${loss_env[@]}" WORK="$work/whole$try" sbatch --wait -N 3 -n 3 --time=5 -o "$work/whole$try.out" \
    "$root/jobs/slurm/demo.sbatch" >/dev/null || rc=$?
  ((rc != 0 && try == 1)) && startup_crash "$work/whole$try.out" || break
  cat "$work/whole$try.out"
  echo "ci-cluster: the uninterrupted run crashed in MPI start-up (above); submitting it once more" >&2
done
((rc == 0)) || { cat "$work/whole$try.out"; fail "the uninterrupted run failed"; }
whole=$work/whole$try

for try in 1 2; do
  lost=$work/lost$try
  id=$(env "${loss_env[@]}" WORK="$lost" sbatch --parsable -N 3 -n 3 --time=5 -o "$lost.out" \
    "$root/jobs/slurm/demo.sbatch")
  for _ in $(seq 1 600); do
    grep -q "(periodic)" "$lost.out" 2>/dev/null && break
    [[ -n $(squeue -h -j "$id" -o %T 2>/dev/null) ]] || break
    sleep 0.1
  done
  grep -q "(periodic)" "$lost.out" && break
  cat "$lost.out"
  ((try == 1)) && startup_crash "$lost.out" || fail "no periodic checkpoint before the fault"
  echo "ci-cluster: the run to be interrupted crashed in MPI start-up (above); submitting it once more" >&2
done
before=$(cd "$lost/run/checkpoints" && md5sum ./*.h5)
t0=$(date +%s%N)
case "$fault" in
  kill) kill -9 "$(cluster_slurmd_pid cbn3)" $(ip netns pids cbn3) 2>/dev/null || true ;;
  link) ip link set cbn3h down ;;
  *) fail "CI_CLUSTER_FAULT: expected kill or link, got '$fault'" ;;
esac
echo "ci-cluster: node cbn3 lost ($fault) after $(echo "$before" | wc -l) checkpoint(s)"
state=
for _ in $(seq 1 600); do
  state=$(squeue -h -j "$id" -o %T 2>/dev/null)
  [[ "$state" == RUNNING ]] || break
  sleep 0.1
done
ended_ms=$((($(date +%s%N) - t0) / 1000000))
echo "ci-cluster: the job left RUNNING (now '$state') $((ended_ms / 1000)).$((ended_ms % 1000 / 100)) s after the loss"
((ended_ms <= 30000)) || fail "the job still ran 30 s after the node was lost"
for _ in $(seq 1 100); do
  grep -q "Node failure on cbn3\|DUE TO NODE FAILURE" "$lost.out" && break
  sleep 0.1
done
grep "cbn3\|NODE FAILURE" "$lost.out" | sed 's/^/  /'
grep -q "Node failure on cbn3" "$lost.out" || fail "no message naming the lost node cbn3"
after=$(cd "$lost/run/checkpoints" && md5sum $(echo "$before" | awk '{print $2}'))
[[ "$after" == "$before" ]] || fail "a checkpoint written before the loss changed"

# The node comes back (a reboot: fresh node-local directories), and Slurm requeues the failed job.
[[ "$fault" == link ]] && ip link set cbn3h up
cluster_restore_node cbn3
# Release the requeued job only once Slurm sees all three nodes idle, with no flag (not responding, completing) and
# twice a second apart: a job started while the ctld still settles the returned node's registration got an
# allocation whose steps stayed "busy" until the time limit (one CI run in many).
for _ in 1 2; do
  cluster_wait_idle 3 60 || fail "the nodes did not all come back idle after cbn3 returned"
  sleep 1
done
for _ in $(seq 1 900); do
  state=$(squeue -h -j "$id" -o %T 2>/dev/null)
  # A requeued job waits for its begin time (2 minutes ahead); let it start now.
  [[ "$state" == PENDING ]] && scontrol update JobId="$id" StartTime=now >/dev/null 2>&1
  [[ -z "$state" ]] && break
  sleep 0.2
done
[[ -z "$state" ]] || fail "the requeued job did not finish (state $state)"
grep -v "^epoch" "$lost.out" | tail -n 12 | sed 's/^/  /'
grep -q "restart 1" "$lost.out" || fail "the job was not requeued"
grep -q "resumed from" "$lost.out" || fail "the requeued job did not resume from the checkpoint"
grep -q "cbednet demo: finished" "$lost.out" || fail "the requeued job did not finish"
a=$(ls "$whole/run/checkpoints/"*.h5 | tail -n 1)
b=$(ls "$lost/run/checkpoints/"*.h5 | tail -n 1)
[[ $(basename "$a") == $(basename "$b") ]] || fail "last checkpoints differ in step: $a vs $b"
/usr/bin/python3 "$root/scripts/compare_checkpoints.py" "$a" "$b" --tolerance 0 ||
  fail "the resumed run's checkpoint differs from the uninterrupted one"
echo "ci-cluster: node loss: ended in $((ended_ms / 1000)) s, requeued, resumed; $(basename "$b") equals the" \
  "uninterrupted run's bit for bit"
