// The transport selection rule (choose_transport, docs/parallel.md "Transports") as a pure function: NCCL only
// for a CUDA backend in an NCCL build when every rank has its own GPU; two ranks on one GPU fall back to MPI
// (NCCL refuses them), and an explicit --transport nccl that cannot be honoured fails naming the option.
#include <gtest/gtest.h>

#include "core/parallel/transport.hpp"

using namespace cbednet;

namespace {

using Ids = std::vector<std::string>;

std::string refusal(TransportChoice c, bool cuda, bool built, const Ids& ids) {
  try {
    choose_transport(c, cuda, built, ids, "pipeline");
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

TEST(TransportSelect, ParsesTheOption) {
  EXPECT_EQ(parse_transport("auto"), TransportChoice::automatic);
  EXPECT_EQ(parse_transport("mpi"), TransportChoice::mpi);
  EXPECT_EQ(parse_transport("nccl"), TransportChoice::nccl);
  EXPECT_STREQ(to_string(TransportChoice::automatic), "auto");
  EXPECT_STREQ(to_string(TransportKind::nccl), "nccl");
  try {
    parse_transport("gloo");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("--transport"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("gloo"), std::string::npos);
  }
}

TEST(TransportSelect, AutoPicksNcclOnlyWhenEveryRankOwnsAGpu) {
  const Ids own{"GPU-a", "GPU-b", "GPU-c"};
  EXPECT_EQ(choose_transport(TransportChoice::automatic, true, true, own, "x"), TransportKind::nccl);
  EXPECT_EQ(choose_transport(TransportChoice::automatic, false, true, {"", ""}, "x"), TransportKind::mpi);
  EXPECT_EQ(choose_transport(TransportChoice::automatic, true, false, own, "x"), TransportKind::mpi);
  EXPECT_EQ(choose_transport(TransportChoice::automatic, true, true, {"GPU-a", ""}, "x"), TransportKind::mpi);
  EXPECT_EQ(choose_transport(TransportChoice::automatic, true, true, {"GPU-a"}, "x"), TransportKind::mpi);
  EXPECT_EQ(choose_transport(TransportChoice::mpi, true, true, own, "x"), TransportKind::mpi);
}

TEST(TransportSelect, TwoRanksOnOneGpuUseMpi) {
  const Ids shared{"GPU-a", "GPU-b", "GPU-a"};
  EXPECT_EQ(choose_transport(TransportChoice::automatic, true, true, shared, "x"), TransportKind::mpi);
  const std::string m = refusal(TransportChoice::nccl, true, true, shared);
  EXPECT_NE(m.find("--transport nccl"), std::string::npos) << m;
  EXPECT_NE(m.find("ranks 0 and 2 share GPU GPU-a"), std::string::npos) << m;
  EXPECT_NE(m.find("pipeline"), std::string::npos) << m;
}

TEST(TransportSelect, ExplicitNcclFailsClearlyOrIsHonoured) {
  EXPECT_NE(refusal(TransportChoice::nccl, false, true, {"", ""}).find("not CUDA"), std::string::npos);
  EXPECT_NE(refusal(TransportChoice::nccl, true, false, {"GPU-a", "GPU-b"}).find("no CUDA/NCCL"), std::string::npos);
  EXPECT_NE(refusal(TransportChoice::nccl, true, true, {"GPU-a", ""}).find("rank 1 has no GPU"), std::string::npos);
  // One rank with its GPU: honoured (used by the single-GPU test of the NCCL transport).
  EXPECT_EQ(choose_transport(TransportChoice::nccl, true, true, {"GPU-a"}, "x"), TransportKind::nccl);
  EXPECT_EQ(choose_transport(TransportChoice::nccl, true, true, {"GPU-a", "GPU-b"}, "x"), TransportKind::nccl);
}

}  // namespace
