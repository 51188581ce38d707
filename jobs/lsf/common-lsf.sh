# LSF helpers for the CBEDNet job scripts (sourced after jobs/common/grid.sh).

# cbednet_lsf_nodes: compute nodes of the allocation (the batch/launch node listed by CSM is not one), or
# $NODES when set.
cbednet_lsf_nodes() {
  if [[ -n "${NODES:-}" ]]; then
    echo "$NODES"
    return 0
  fi
  [[ -n "${LSB_DJOB_HOSTFILE:-}" && -f "$LSB_DJOB_HOSTFILE" ]] || {
    cbednet_die "cannot count nodes: LSB_DJOB_HOSTFILE is not set (set NODES=...)"
    return 1
  }
  sort -u "$LSB_DJOB_HOSTFILE" | grep -v -E '^(batch|login)' | wc -l
}

# LSF requeues a job that exits with this code (#BSUB -Q "99").
CBEDNET_LSF_REQUEUE_EXIT=99
