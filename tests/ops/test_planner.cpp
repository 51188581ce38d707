// The planner's cost model: hand-computed values for each formula, an exhaustive search as the oracle for the
// partitioner, and the documented H100 calibration.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "core/error.hpp"
#include "core/model/model.hpp"
#include "core/plan/calibration.hpp"
#include "core/plan/planner.hpp"

namespace cbednet::plan {
namespace {

// A 4-block model: per sample 1 GMAC, 1 M parameters, 1 M saved and 100 k output elements per block.
std::vector<BlockInfo> toy_blocks(std::size_t n = 4) {
  std::vector<BlockInfo> blocks;
  for (std::size_t i = 0; i < n; ++i) {
    BlockInfo b;
    b.name = "toy";               // (names do not matter to the planner)
    b.input = {1, 10, 100, 100};  // 100 k elements
    b.output = {1, 10, 100, 100};
    b.cost = {1'000'000, 1'000'000'000, 1'000'000, 100'000};
    blocks.push_back(b);
  }
  return blocks;
}

Device toy_device() {
  Device d;
  d.train_flop_per_s = 6e12;  // 6 x 1 GMAC per sample -> 1 ms per sample per block
  d.block_overhead_s = 0.0;
  d.workspace_bytes = 0.0;
  d.activation_bytes = 2.0;
  d.state_bytes_per_parameter = 14.0;
  d.memory_bytes = 1e12;
  d.usable_fraction = 1.0;
  return d;
}

TEST(Planner, TransferIsLatencyPlusBandwidth) {
  EXPECT_DOUBLE_EQ(transfer_seconds({1e-6, 1e9}, 1e6), 1e-6 + 1e-3);
  EXPECT_DOUBLE_EQ(transfer_seconds({1e-6, 1e9}, 0.0), 0.0);
}

TEST(Planner, RingAllreduceCountsBucketsAndTwiceTheData) {
  // 100 MB over 4 ranks in 25 MB buckets: 4 buckets x 2 x 3 latencies + 2 x 3/4 x 100 MB / 50 GB/s.
  EXPECT_NEAR(allreduce_seconds({5e-6, 50e9}, 100e6, 4, 25e6), 4 * 6 * 5e-6 + 1.5 * 100e6 / 50e9, 1e-15);
  // 101 MB needs a fifth bucket.
  EXPECT_NEAR(allreduce_seconds({5e-6, 50e9}, 101e6, 4, 25e6), 5 * 6 * 5e-6 + 1.5 * 101e6 / 50e9, 1e-15);
  EXPECT_EQ(allreduce_seconds({5e-6, 50e9}, 100e6, 1, 25e6), 0.0);
  EXPECT_THROW(allreduce_seconds({5e-6, 50e9}, 100e6, 0, 25e6), InvalidArgument);
}

TEST(Planner, BubbleAndStash) {
  EXPECT_DOUBLE_EQ(bubble_fraction(4, 12), 3.0 / 15.0);
  EXPECT_DOUBLE_EQ(bubble_fraction(1, 7), 0.0);
  EXPECT_EQ(stashed_micro_batches(4, 0, 2), 2);  // fewer micro-batches than stages
  EXPECT_EQ(stashed_micro_batches(4, 0, 8), 4);
  EXPECT_EQ(stashed_micro_batches(4, 1, 8), 3);
  EXPECT_EQ(stashed_micro_batches(4, 3, 8), 1);
  EXPECT_THROW(stashed_micro_batches(4, 4, 8), InvalidArgument);
}

TEST(Planner, PartitionHandCases) {
  EXPECT_EQ(partition_min_max({1, 1, 1, 1}, 2), (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(partition_min_max({5, 1, 1, 1, 1, 1}, 2), (std::vector<std::size_t>{0, 1}));
  // [1..5] = 15, [6, 7] = 13, [8, 9] = 17: the only split whose largest part is 17.
  EXPECT_EQ(partition_min_max({1, 2, 3, 4, 5, 6, 7, 8, 9}, 3), (std::vector<std::size_t>{0, 5, 7}));
  EXPECT_EQ(partition_min_max({3, 1, 4}, 3), (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_THROW(partition_min_max({1, 2}, 3), InvalidArgument);
  EXPECT_THROW(partition_min_max({1, 2}, 0), InvalidArgument);
}

double largest_part(const std::vector<double>& cost, const std::vector<std::size_t>& firsts) {
  double worst = 0.0;
  for (std::size_t k = 0; k < firsts.size(); ++k) {
    const std::size_t end = k + 1 < firsts.size() ? firsts[k + 1] : cost.size();
    double sum = 0.0;
    for (std::size_t i = firsts[k]; i < end; ++i) sum += cost[i];
    worst = std::max(worst, sum);
  }
  return worst;
}

// Every way of choosing parts - 1 cut points among n - 1 gaps (bit masks): the exhaustive oracle.
double brute_force_min_max(const std::vector<double>& cost, int parts) {
  const std::size_t n = cost.size();
  double best = std::numeric_limits<double>::infinity();
  for (unsigned mask = 0; mask < (1U << (n - 1)); ++mask) {
    if (__builtin_popcount(mask) != parts - 1) continue;
    std::vector<std::size_t> firsts{0};
    for (std::size_t g = 0; g + 1 < n; ++g) {
      if (mask & (1U << g)) firsts.push_back(g + 1);
    }
    best = std::min(best, largest_part(cost, firsts));
  }
  return best;
}

TEST(Planner, PartitionMatchesExhaustiveSearch) {
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> u(0.1, 10.0);
  for (int trial = 0; trial < 40; ++trial) {
    const std::size_t n = 2 + trial % 11;
    std::vector<double> cost(n);
    for (auto& c : cost) c = u(gen);
    for (int parts = 1; parts <= static_cast<int>(n); ++parts) {
      const auto firsts = partition_min_max(cost, parts);
      ASSERT_EQ(firsts.size(), static_cast<std::size_t>(parts));
      EXPECT_EQ(firsts.front(), 0U);
      for (std::size_t k = 1; k < firsts.size(); ++k) EXPECT_LT(firsts[k - 1], firsts[k]);
      EXPECT_NEAR(largest_part(cost, firsts), brute_force_min_max(cost, parts), 1e-12)
          << "n " << n << " parts " << parts;
    }
  }
}

TEST(Planner, UsableGrids) {
  Cluster summit{2, 6, {}, {}, {}};
  EXPECT_TRUE(grid_is_usable(summit, 1, 18));
  EXPECT_TRUE(grid_is_usable(summit, 3, 18));
  EXPECT_TRUE(grid_is_usable(summit, 6, 18));
  EXPECT_TRUE(grid_is_usable(summit, 12, 18));   // two whole nodes per pipeline
  EXPECT_FALSE(grid_is_usable(summit, 4, 18));   // 4 does not divide 6: pipelines straddle nodes
  EXPECT_FALSE(grid_is_usable(summit, 12, 10));  // more stages than blocks
  EXPECT_FALSE(grid_is_usable(summit, 5, 18));
}

TEST(Planner, PredictTwoStagesByHand) {
  Cluster c{1, 2, {0.0, 4e9}, {0.0, 1e9}, {}};
  const auto p = predict(toy_blocks(), c, toy_device(), 2, 8, 2, 25e6);
  EXPECT_EQ(p.replicas, 1);
  EXPECT_EQ(p.micro_batches, 4);
  ASSERT_EQ(p.stage.size(), 2U);
  EXPECT_EQ(p.stage[0].first_block, 0U);
  EXPECT_EQ(p.stage[1].first_block, 2U);
  // 2 blocks x 2 samples x 1 ms; one send of 100 k x 2 samples x 2 bytes at 4 GB/s = 0.1 ms.
  EXPECT_NEAR(p.stage[0].compute_s, 4e-3, 1e-12);
  EXPECT_NEAR(p.stage[0].transfer_s, 1e-4, 1e-12);
  EXPECT_NEAR(p.stage[1].transfer_s, 1e-4, 1e-12);
  EXPECT_NEAR(p.pipeline_s, 5 * 4.1e-3, 1e-12);  // (M + P - 1) slots
  EXPECT_EQ(p.allreduce_s, 0.0);                 // D = 1
  EXPECT_NEAR(p.images_per_s, 8 / 20.5e-3, 1e-6);
  EXPECT_DOUBLE_EQ(p.bubble, 1.0 / 5.0);
  // Stage 0 stashes min(2, 4) = 2 micro-batches, stage 1 one: 2 M params x 14 B + k x 2 x 2 M x 2 B.
  EXPECT_EQ(p.stage[0].stashed, 2);
  EXPECT_EQ(p.stage[1].stashed, 1);
  EXPECT_DOUBLE_EQ(p.stage[0].memory_bytes, 28e6 + 16e6);
  EXPECT_DOUBLE_EQ(p.stage[1].memory_bytes, 28e6 + 8e6);
  EXPECT_DOUBLE_EQ(p.memory_bytes, 44e6);
  EXPECT_TRUE(p.fits);
}

TEST(Planner, RecomputationTradesTimeForMemory) {
  // The same two stages with --recompute blocks: 8 instead of 6 FLOPs per MAC, and each stashed micro-batch keeps
  // only the blocks' 100 k-element inputs instead of their 1 M saved elements.
  Cluster c{1, 2, {0.0, 4e9}, {0.0, 1e9}, {}};
  const auto p = predict(toy_blocks(), c, toy_device(), 2, 8, 2, 25e6, true);
  EXPECT_NEAR(p.stage[0].compute_s, 4e-3 * 8.0 / 6.0, 1e-12);
  EXPECT_DOUBLE_EQ(p.stage[0].memory_bytes, 28e6 + 2 * 2 * 2 * 100e3 * 2);
  EXPECT_DOUBLE_EQ(p.stage[1].memory_bytes, 28e6 + 1 * 2 * 2 * 100e3 * 2);
  const auto q = predict(toy_blocks(), c, toy_device(), 2, 8, 2, 25e6);
  EXPECT_LT(p.memory_bytes, q.memory_bytes);
  EXPECT_GT(p.step_s, q.step_s);
}

TEST(Planner, PredictDataParallelAcrossNodesByHand) {
  // 2 nodes x 1 GPU, P = 1, D = 2: the 4 M parameters' fp32 gradients (16 MB, one bucket) cross the inter link.
  Cluster c{2, 1, {1e-6, 100e9}, {5e-6, 10e9}, {}};
  const auto p = predict(toy_blocks(), c, toy_device(), 1, 8, 4, 25e6);
  EXPECT_EQ(p.replicas, 2);
  EXPECT_EQ(p.micro_batches, 1);
  EXPECT_NEAR(p.pipeline_s, 4 * 4 * 1e-3, 1e-12);
  EXPECT_NEAR(p.allreduce_s, 2 * 5e-6 + 16e6 / 10e9, 1e-12);
  EXPECT_NEAR(p.step_s, 16e-3 + 2 * 5e-6 + 1.6e-3, 1e-12);
  // One node: the same grid uses the intra link.
  Cluster one{1, 2, {1e-6, 100e9}, {5e-6, 10e9}, {}};
  EXPECT_NEAR(predict(toy_blocks(), one, toy_device(), 1, 8, 4, 25e6).allreduce_s, 2 * 1e-6 + 16e6 / 100e9, 1e-12);
}

TEST(Planner, BucketsOverlapTheLastBackward) {
  // 2 nodes x 1 GPU, D = 2, micro-batch 4: a block takes 4 ms, its backward 2/3 of that; 4 MB buckets close at
  // every block (4 MB of fp32 gradients each), ready at 2.67, 5.33, 8 and 10.67 ms (the end of the backward).
  Cluster fast{2, 1, {0.0, 1e12}, {5e-6, 10e9}, {}};
  // 0.41 ms per bucket: all but the last hide behind the backward.
  EXPECT_NEAR(predict(toy_blocks(), fast, toy_device(), 1, 8, 4, 4e6).allreduce_s, 2 * 5e-6 + 4e6 / 10e9, 1e-12);
  // 4 ms per bucket: they queue (ends 6.67, 10.67, 14.67, 18.67 ms), 8 ms past the backward.
  Cluster slow{2, 1, {0.0, 1e12}, {0.0, 1e9}, {}};
  EXPECT_NEAR(predict(toy_blocks(), slow, toy_device(), 1, 8, 4, 4e6).allreduce_s, 8e-3, 1e-12);
}

TEST(Planner, MeasuredBlockTimesReplaceTheMacModel) {
  // Block times measured at micro-batch 2 (forward, backward ms): the last block is 4 x slower than its MACs say.
  Device d = toy_device();
  d.measured_forward_s = {1e-3, 1e-3, 1e-3, 4e-3};
  d.measured_backward_s = {2e-3, 2e-3, 2e-3, 8e-3};
  d.measured_micro_batch = 2;
  Cluster c{1, 2, {0.0, 1e12}, {0.0, 1e12}, {}};
  // --balance macs: the cut stays where the MACs put it (blocks 0-1 | 2-3); micro-batch 4 doubles the times.
  const auto macs = predict(toy_blocks(), c, d, 2, 8, 4, 25e6);
  ASSERT_EQ(macs.stage.size(), 2U);
  EXPECT_EQ(macs.stage[1].first_block, 2U);
  EXPECT_NEAR(macs.stage[0].compute_s, 2 * (3e-3 + 3e-3), 1e-12);
  EXPECT_NEAR(macs.stage[1].compute_s, 2 * (3e-3 + 12e-3), 1e-12);
  // 1F1B with unbalanced stages: the slow stage runs both micro-batches back to back (2 x 30 ms), the other adds
  // its one micro-batch of fill and drain (12 ms): 72 ms, not (M + P - 1) x 30 = 90 ms.
  EXPECT_EQ(macs.micro_batches, 2);
  EXPECT_NEAR(macs.pipeline_s, 72e-3, 1e-5);  // (+ 0.8 us per activation transfer)
  // --balance time: blocks 0-2 | 3, whose 24 ms are now the slowest stage.
  d.balance_by_time = true;
  const auto time = predict(toy_blocks(), c, d, 2, 8, 4, 25e6);
  EXPECT_EQ(time.stage[1].first_block, 3U);
  EXPECT_NEAR(time.stage[0].compute_s, 18e-3, 1e-12);
  EXPECT_NEAR(time.stage[1].compute_s, 24e-3, 1e-12);
  EXPECT_LT(time.step_s, macs.step_s);
  // Recomputation runs every forward twice.
  EXPECT_NEAR(predict(toy_blocks(), c, d, 2, 8, 4, 25e6, true).stage[1].compute_s, 24e-3 + 8e-3, 1e-12);
  // Times for another model's blocks are refused.
  d.measured_forward_s.pop_back();
  EXPECT_THROW(predict(toy_blocks(), c, d, 2, 8, 4, 25e6), InvalidArgument);
}

TEST(Planner, AllreduceWithoutOverlapFollowsTheBackward) {
  // As BucketsOverlapTheLastBackward's fast link, but the MPI transport: all four 0.41 ms buckets are exposed.
  Cluster fast{2, 1, {0.0, 1e12}, {5e-6, 10e9}, {}};
  Device d = toy_device();
  d.allreduce_overlaps_backward = false;
  EXPECT_NEAR(predict(toy_blocks(), fast, d, 1, 8, 4, 4e6).allreduce_s, 4 * (2 * 5e-6 + 4e6 / 10e9), 1e-12);
}

TEST(Planner, PredictRejectsBadGrids) {
  Cluster c{1, 4, {0.0, 1e9}, {0.0, 1e9}, {}};
  EXPECT_THROW(predict(toy_blocks(), c, toy_device(), 3, 8, 1, 25e6), InvalidArgument);  // 3 does not divide 4
  EXPECT_THROW(predict(toy_blocks(), c, toy_device(), 1, 6, 1, 25e6), InvalidArgument);  // D = 4 does not divide 6
  EXPECT_THROW(predict(toy_blocks(), c, toy_device(), 2, 8, 3, 25e6), InvalidArgument);  // 3 does not divide 4
  Cluster big{1, 8, {0.0, 1e9}, {0.0, 1e9}, {}};
  EXPECT_THROW(predict(toy_blocks(), big, toy_device(), 8, 8, 1, 25e6), InvalidArgument);  // 8 stages > 4 blocks
}

TEST(Planner, MemoryDecidesWhatFits) {
  Device d = toy_device();
  // P = 1 needs 4 M x 14 B = 56 MB for parameters alone; P = 2 stage 0 needs 28 MB + 2 x micro x 4 MB.
  d.memory_bytes = 50e6;
  Cluster c{1, 2, {0.0, 4e9}, {0.0, 1e9}, {}};
  EXPECT_FALSE(predict(toy_blocks(), c, d, 1, 8, 1, 25e6).fits);
  EXPECT_FALSE(predict(toy_blocks(), c, d, 2, 8, 4, 25e6).fits);  // 60 MB
  const auto all = plan_all(toy_blocks(), c, d, 8, 25e6);
  ASSERT_EQ(all.size(), 2U);
  // micro 1: 9 slots of 2.05 ms = 18.45 ms; micro 2: 5 slots of 4.1 ms = 20.5 ms.
  EXPECT_EQ(all[0].stages, 2);
  EXPECT_EQ(all[0].micro_batch, 1);
  EXPECT_NEAR(all[0].step_s, 18.45e-3, 1e-12);
  EXPECT_EQ(all[1].micro_batch, 2);
  EXPECT_NEAR(all[1].step_s, 20.5e-3, 1e-12);
  EXPECT_EQ(best_per_stage_count(all).size(), 1U);
  d.memory_bytes = 20e6;  // nothing fits
  EXPECT_TRUE(plan_all(toy_blocks(), c, d, 8, 25e6).empty());
}

TEST(Planner, DefaultDeviceReproducesThePyTorchCalibration) {
  const Model model = build_resnet(resnet_spec("resnet50"));
  const Cluster one{1, 1, {2e-6, 360e9}, {5e-6, 50e9}, {}};
  const Device h100;
  // docs/planner.md: PyTorch eager bf16 channels_last on an H100 at 512^2: 780 img/s (batch 64), 732 (batch 32).
  EXPECT_NEAR(predict(model.info(), one, h100, 1, 64, 64, 25e6).images_per_s, 780.0, 780.0 * 0.01);
  EXPECT_NEAR(predict(model.info(), one, h100, 1, 32, 32, 25e6).images_per_s, 732.0, 732.0 * 0.01);
  // bf16 activations of ResNet-50 at 512^2 and batch 64 fit an 80 GiB card with P = 1.
  EXPECT_TRUE(predict(model.info(), one, h100, 1, 64, 64, 25e6).fits);
}

TEST(Calibration, ParsesBenchLineAndReproducesIt) {
  EXPECT_EQ(json_number(R"({"a": 1, "ms_per_step": 12.5, "b": "x"})", "ms_per_step"), 12.5);
  EXPECT_FALSE(json_number(R"({"a": 1})", "ms_per_step").has_value());
  EXPECT_EQ(json_string(R"({"arch": "resnet50", "size": 512})", "arch"), "resnet50");
  const std::string text =
      "warming up\n{\"benchmark\": \"train_step\", \"arch\": \"toy\", \"size\": 100, \"batch\": 8, "
      "\"micro_batch\": 4, \"ms_per_step\": 40.0}\n";
  const auto point = parse_bench_line(text, "test");
  EXPECT_EQ(point.arch, "toy");
  EXPECT_EQ(point.batch, 8);
  EXPECT_EQ(point.micro_batch, 4);
  EXPECT_THROW(parse_bench_line("{\"x\": 1}\n", "test"), InvalidArgument);

  Device d = toy_device();
  d.block_overhead_s = 1e-3;  // 2 micro-batches x 4 blocks x 1 ms = 8 ms of the 40 ms
  const Device fitted = calibrate(d, toy_blocks(), point);
  EXPECT_NEAR(fitted.train_flop_per_s, 6.0 * 4e9 * 8 / 32e-3, 1.0);
  Cluster one{1, 1, {0.0, 1e9}, {0.0, 1e9}, {}};
  EXPECT_NEAR(predict(toy_blocks(), one, fitted, 1, 8, 4, 25e6).step_s, 40e-3, 1e-12);
}

TEST(Calibration, MeasuredBlockTimesScaleToTheMeasuredStep) {
  // Blocks measured at micro-batch 2 sum to 30 ms, so a step of batch 8 in micro-batches of 4 would take 2 x 60 ms;
  // it took 240 ms: every block time doubles, proportions kept.
  Device d = toy_device();
  d.measured_forward_s = {1e-3, 1e-3, 1e-3, 4e-3};
  d.measured_backward_s = {2e-3, 2e-3, 2e-3, 17e-3};
  d.measured_micro_batch = 2;
  const Device c = calibrate(d, toy_blocks(), BenchPoint{"toy", 64, 8, 4, 240.0});
  EXPECT_NEAR(c.measured_forward_s[3], 8e-3, 1e-15);
  EXPECT_NEAR(c.measured_backward_s[0], 4e-3, 1e-15);
  Cluster one{1, 1, {0.0, 1e12}, {0.0, 1e12}, {}};
  EXPECT_NEAR(predict(toy_blocks(), one, c, 1, 8, 4, 25e6).step_s, 0.240, 1e-12);
}

TEST(Calibration, BlockTimesLine) {
  const std::string line =
      "{\"benchmark\": \"train_step\", \"ms_per_step\": 3}\n"
      "{\"benchmark\": \"block_times\", \"device\": \"cpu\", \"arch\": \"resnet18\", \"size\": 64, "
      "\"micro_batch\": 2, \"forward_ms\": [1, 2.5, 0.25], \"backward_ms\": [2,5e0 , 0.5], \"threads\": 1}\n";
  const auto m = parse_block_times(line, "blocks.json");
  EXPECT_EQ(m.arch, "resnet18");
  EXPECT_EQ(m.device, "cpu");
  EXPECT_EQ(m.size, 64);
  EXPECT_EQ(m.micro_batch, 2);
  EXPECT_EQ(m.forward_s, (std::vector<double>{1e-3, 2.5e-3, 0.25e-3}));
  EXPECT_EQ(m.backward_s, (std::vector<double>{2e-3, 5e-3, 0.5e-3}));
  const auto refused = [](const std::string& text, const std::string& part) {
    try {
      parse_block_times(text, "blocks.json");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("blocks.json"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  refused("{\"benchmark\": \"train_step\"}\n", "no \"benchmark\": \"block_times\" line");
  refused("{\"benchmark\": \"block_times\", \"micro_batch\": 2, \"forward_ms\": [1, 2], \"backward_ms\": [1]}",
          "one length");
  refused("{\"benchmark\": \"block_times\", \"micro_batch\": 0, \"forward_ms\": [1], \"backward_ms\": [1]}",
          "micro_batch >= 1");
  refused("{\"benchmark\": \"block_times\", \"micro_batch\": 1, \"forward_ms\": [-1], \"backward_ms\": [1]}",
          "negative");
  refused("{\"benchmark\": \"block_times\", \"micro_batch\": 1, \"forward_ms\": [1 x], \"backward_ms\": [1]}",
          "one length");
}

TEST(Calibration, NetworkLinkAndMeasuredAllreduce) {
  const std::string text =
      "{\"benchmark\": \"network_p2p\", \"bytes\": 8, \"one_way_us\": 20}\n"
      "{\"benchmark\": \"network_allreduce\", \"ranks\": 3, \"bytes\": 8, \"us\": 50}\n"
      "{\"benchmark\": \"network_allreduce\", \"ranks\": 3, \"bytes\": 1000000, \"us\": 1100}\n"
      "{\"benchmark\": \"network_allreduce\", \"ranks\": 3, \"bytes\": 3000000, \"us\": 3100}\n"
      "{\"benchmark\": \"network_link\", \"latency_us\": 20, \"gbps\": 8}\n";
  const Link link = parse_network_link(text, "net.jsonl");
  EXPECT_NEAR(link.latency_s, 20e-6, 1e-15);
  EXPECT_NEAR(link.bytes_per_s, 1e9, 1e-3);
  // 100 us + 1 us per kB = 1 GB/s; the 8-byte point (latency-bound) is left out of the fit.
  const auto fit = parse_allreduce_fit(text, "net.jsonl");
  ASSERT_TRUE(fit.has_value());
  EXPECT_EQ(fit->ranks, 3);
  EXPECT_NEAR(fit->fixed_s, 100e-6, 1e-12);
  EXPECT_NEAR(fit->bytes_per_s, 1e9, 1.0);
  // Two buckets: the fixed cost twice.
  EXPECT_NEAR(allreduce_seconds(*fit, 4e6, 2.5e6), 2 * 100e-6 + 4e-3, 1e-12);
  // The planner uses it for D = 3 across nodes instead of the ring over the link.
  Cluster c{3, 1, {0.0, 1e12}, link, fit};
  const auto p = predict(toy_blocks(), c, toy_device(), 1, 12, 4, 25e6);
  EXPECT_NEAR(p.allreduce_s, allreduce_seconds(*fit, 16e6, 25e6), 1e-12);
  // Another rank count keeps the ring formula.
  Cluster six{6, 1, {0.0, 1e12}, link, fit};
  EXPECT_NEAR(predict(toy_blocks(), six, toy_device(), 1, 12, 2, 25e6).allreduce_s,
              allreduce_seconds(link, 16e6, 6, 25e6), 1e-12);
  EXPECT_THROW(parse_network_link("{\"benchmark\": \"network_p2p\"}\n", "x"), InvalidArgument);
  EXPECT_FALSE(parse_allreduce_fit("{\"benchmark\": \"network_link\", \"latency_us\": 1, \"gbps\": 1}\n", "x"));
}

}  // namespace
}  // namespace cbednet::plan
