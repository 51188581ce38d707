// NcclTransport: the Transport of transport.hpp on NCCL, for device tensors of a CUDA backend whose ranks each own
// one GPU (the selection rule of transport.hpp). Compiled in CUDA builds only (core/parallel/CMakeLists.txt). This
// header has no CUDA or NCCL includes; of the CUDA backend the .cpp uses only its compute stream
// (kernels/cuda/compute_stream.hpp) and the RAII handles and checks of kernels/cuda/cuda_handles.hpp.
//
// Communicators, all created collectively at construction from the MPI communicator (ncclGetUniqueId on rank 0,
// MPI_Bcast, ncclCommInitRank) and each with its own CUDA stream:
//   * one over the whole group: allreduce_sum (ncclAllReduce in place) and transfers to self (ncclSend and
//     ncclRecv paired inside ncclGroupStart/End once both are posted);
//   * with TransportUse::point_to_point, one per direction of each neighbour pair (rank r <-> r+1): four 2-rank
//     communicators per rank. A pipeline issues receives early and sends late; NCCL send/recv block their stream
//     until matched, so mixing directions on one stream could deadlock. One stream per direction keeps each
//     stream's operations in the same order on both sides (the ordering contract of transport.hpp).
// Host tensors (labels, evaluation logits) and peers that are not neighbours go through an MpiTransport on the
// same MPI communicator.
//
// Ordering: every operation first makes its stream wait for an event recorded on the backend's compute stream,
// so it sees all work queued before it. Completion is an event on the transport's stream: test() queries it,
// wait() polls it together with ncclCommGetAsyncError, so a failed peer surfaces as an error instead of a hang.
// Errors throw BackendError naming the NCCL call, the operation, the peer and the communicator size.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "core/parallel/transport.hpp"

namespace cbednet {

// "GPU-<uuid>" of the device a CUDA backend is bound to (the same physical GPU gives the same identity in every
// process, which is how ranks sharing a GPU are found). Throws InvalidArgument for a non-CUDA backend.
std::string cuda_device_identity(Backend& backend);

// Collective over comm. backend must be a CUDA backend and outlive the transport.
std::unique_ptr<Transport> make_nccl_transport(Backend& backend, MPI_Comm comm, TransportUse use);

}  // namespace cbednet
