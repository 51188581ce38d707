// cbednet bench --network: point-to-point latency and bandwidth between the first and the last rank, and
// allreduce times over all ranks (MPI_Iallreduce + MPI_Wait, as the trainer reduces its gradient buckets), printed as
// JSON lines; the "network_link" line is what `cbednet plan --calibrate-network` reads (docs/cluster.md).
#pragma once

namespace cbednet::app {

// Runs under mpiexec/srun with at least 2 ranks (throws InvalidArgument otherwise); rank 0 prints.
// repetitions scales the number of timed exchanges (1: about a second on a 1 Gbit/s link).
int run_network_bench(long repetitions);

}  // namespace cbednet::app
