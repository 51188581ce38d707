// Checkpoints hold tensors by name (io/checkpoint); collect_tensors/assign_tensors (core/model/param_store.hpp)
// move them out of and into a ParamStore. Round trip through a file, a pipeline stage taking its own tensors,
// and the errors naming the tensor and the file.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "core/model/stage.hpp"
#include "io/checkpoint/checkpoint.hpp"
#include "io/hdf5/h5_handle.hpp"
#include "kernels/cpu/reference_backend.hpp"
#include "tests/io/hdf5/test_helpers.hpp"

using namespace cbednet;

namespace {

ResNetSpec tiny_spec() {
  ResNetSpec spec = resnet_spec("basic:1,1");
  spec.base_width = 8;
  spec.input_size = 12;
  spec.classes = 4;
  spec.stem = StemKind::small;
  return spec;
}

// Every element of a and b (same names) equal, for each group.
void expect_same(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    const auto it = b.find(name);
    ASSERT_NE(it, b.end()) << name;
    ASSERT_EQ(t.shape(), it->second.shape()) << name;
    const Tensor x = t.to_dtype(DType::f64), y = it->second.to_dtype(DType::f64);
    for (std::int64_t i = 0; i < x.count(); ++i) ASSERT_EQ(x.data<double>()[i], y.data<double>()[i]) << name;
  }
}

std::string error_of(ParamStore& store, const ModelTensors& tensors) {
  try {
    assign_tensors(store, tensors, "ckpt.h5");
  } catch (const IoError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Checkpoint, RoundTripThroughAFileIntoAnotherStore) {
  ReferenceBackend backend;
  Model model = build_resnet(tiny_spec());
  Stage saved(backend, model, 0, model.size(), 1);
  backend.fill(saved.store().momentum(), 0.5);
  const io::testing::TempDir dir("checkpoint");
  const std::string path = io::checkpoint_path(dir.path().string(), 7);
  io::TrainingState state;
  state.epoch = 2;
  state.global_step = 7;
  state.seed = 1;
  io::save_checkpoint(path, tiny_spec(), state, "seed = 1\n", collect_tensors(saved.store()));

  const io::LoadedCheckpoint loaded = io::load_checkpoint(path, tiny_spec());
  EXPECT_EQ(loaded.info.state.global_step, 7);
  EXPECT_EQ(loaded.info.state.epoch, 2);
  EXPECT_EQ(loaded.info.config, "seed = 1\n");
  Stage restored(backend, model, 0, model.size(), 2);  // other initial values
  assign_tensors(restored.store(), loaded.tensors, path);
  const ModelTensors a = collect_tensors(saved.store()), b = collect_tensors(restored.store());
  expect_same(a.parameters, b.parameters);
  expect_same(a.momentum, b.momentum);
  expect_same(a.buffers, b.buffers);
}

TEST(Checkpoint, AStageTakesItsOwnTensorsByName) {
  ReferenceBackend backend;
  Model model = build_resnet(tiny_spec());
  Stage whole(backend, model, 0, model.size(), 1);
  Stage last(backend, model, 1, model.size(), 2);
  const ModelTensors all = collect_tensors(whole.store());
  assign_tensors(last.store(), all, "ckpt.h5");
  const ModelTensors mine = collect_tensors(last.store());
  ASSERT_LT(mine.parameters.size(), all.parameters.size());
  for (const auto& [name, t] : mine.parameters) {
    const Tensor x = t.to_dtype(DType::f64), y = all.parameters.at(name).to_dtype(DType::f64);
    for (std::int64_t i = 0; i < x.count(); ++i) ASSERT_EQ(x.data<double>()[i], y.data<double>()[i]) << name;
  }
}

TEST(Checkpoint, MissingOrMisshapenTensorsNameTheTensorAndTheFile) {
  ReferenceBackend backend;
  Model model = build_resnet(tiny_spec());
  Stage stage(backend, model, 0, model.size(), 1);
  const ModelTensors good = collect_tensors(stage.store());
  const std::string name = good.momentum.begin()->first;

  ModelTensors missing = collect_tensors(stage.store());
  missing.momentum.erase(name);
  EXPECT_EQ(error_of(stage.store(), missing),
            "file ckpt.h5, group momentum/" + name + ": missing (the checkpoint does not match this model)");

  ModelTensors misshapen = collect_tensors(stage.store());
  const Shape shape = misshapen.parameters.at(name).shape();
  misshapen.parameters.insert_or_assign(name, Tensor({shape.n + 1, shape.c, shape.h, shape.w}, DType::f64));
  const std::string what = error_of(stage.store(), misshapen);
  EXPECT_NE(what.find("file ckpt.h5, group parameters/" + name + ": shape "), std::string::npos) << what;
  EXPECT_NE(what.find(" does not match the model's " + shape.str()), std::string::npos) << what;
}

TEST(Checkpoint, TensorsOfTwoStagesMergeAndANameMayNotRepeat) {
  ModelTensors first, second, again;
  first.parameters.emplace("stem.conv.weight", Tensor({1, 1, 1, 1}, DType::f32));
  second.parameters.emplace("fc.weight", Tensor({1, 1, 1, 1}, DType::f32));
  again.parameters.emplace("stem.conv.weight", Tensor({1, 1, 1, 1}, DType::f32));
  first.merge(std::move(second));
  EXPECT_EQ(first.parameters.size(), 2u);
  EXPECT_THROW(first.merge(std::move(again)), Error);
}

namespace {

// The checksum as format version 1 has always defined it: FNV-1a 64 over parameters, momentum, buffers.
std::string version_one_checksum(const ModelTensors& t) {
  std::uint64_t h = 1469598103934665603ull;
  const auto add = [&](const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ull;
    }
  };
  for (const NamedTensors* group : {&t.parameters, &t.momentum, &t.buffers})
    for (const auto& [name, tensor] : *group) {
      add(name.data(), name.size());
      add(tensor.raw(), tensor.bytes());
    }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

TEST(Checkpoint, OptimizerStateIsOptionalAndOlderFilesKeepTheirLayout) {
  ReferenceBackend backend;
  Model model = build_resnet(tiny_spec());
  const io::testing::TempDir dir("checkpoint-optim");
  io::TrainingState state;
  state.seed = 1;

  // SGD without a weight average: the file is exactly what format version 1 always wrote (no new groups, the same
  // checksum), so files written before the optional groups existed load as before.
  Stage sgd(backend, model, 0, model.size(), 1);
  const std::string plain = io::checkpoint_path(dir.path().string(), 1);
  const ModelTensors plain_tensors = collect_tensors(sgd.store());
  io::save_checkpoint(plain, tiny_spec(), state, "", plain_tensors);
  {
    const io::h5::Handle file = io::h5::open_file_readonly(plain);
    EXPECT_FALSE(io::h5::has_link(file.get(), "second_moment", plain));
    EXPECT_FALSE(io::h5::has_link(file.get(), "ema", plain));
    EXPECT_EQ(io::h5::read_string_attribute(file.get(), "checksum", plain), version_one_checksum(plain_tensors));
  }
  EXPECT_TRUE(io::load_checkpoint(plain, tiny_spec()).tensors.second_moment.empty());

  // LAMB with a weight average: both groups are written, checksummed and read back.
  Stage lamb(backend, model, 0, model.size(), 1);
  lamb.store().enable_second_moment();
  lamb.store().enable_ema();
  backend.fill(lamb.store().second_moment(), 0.25);
  backend.fill(lamb.store().ema(), -0.5);
  const std::string full = io::checkpoint_path(dir.path().string(), 2);
  io::save_checkpoint(full, tiny_spec(), state, "", collect_tensors(lamb.store()));
  const io::LoadedCheckpoint loaded = io::load_checkpoint(full, tiny_spec());
  Stage restored(backend, model, 0, model.size(), 3);
  restored.store().enable_second_moment();
  restored.store().enable_ema();
  assign_tensors(restored.store(), loaded.tensors, full);
  const ModelTensors a = collect_tensors(lamb.store()), b = collect_tensors(restored.store());
  expect_same(a.second_moment, b.second_moment);
  expect_same(a.ema, b.ema);
  EXPECT_NE(io::h5::read_string_attribute(io::h5::open_file_readonly(full).get(), "checksum", full),
            version_one_checksum(a));  // the new groups are covered by the checksum
}

TEST(Checkpoint, PreActivationIsPartOfTheModelDescription) {
  ReferenceBackend backend;
  ResNetSpec spec = resnet_spec("preact-basic:1,1");
  spec.base_width = 8;
  spec.input_size = 12;
  spec.classes = 4;
  spec.stem = StemKind::small;
  Model model = build_resnet(spec);
  Stage stage(backend, model, 0, model.size(), 1);
  const io::testing::TempDir dir("checkpoint-preact");
  const std::string path = io::checkpoint_path(dir.path().string(), 3);
  io::TrainingState state;
  io::save_checkpoint(path, spec, state, "", collect_tensors(stage.store()));
  EXPECT_TRUE(io::read_checkpoint_info(path).spec.pre_activation);
  EXPECT_NO_THROW(io::load_checkpoint(path, spec));
  // The post-activation network of the same block counts is another model.
  try {
    io::load_checkpoint(path, tiny_spec());
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("pre-activation"), std::string::npos) << e.what();
  }
}
