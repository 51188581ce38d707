#include "app/init_from.hpp"

#include "core/model/param_store.hpp"

namespace cbednet::app {

ResNetSpec fine_tuning_spec(const std::string& path, const io::CheckpointInfo& from, const ResNetSpec& run,
                            std::int64_t data_channels, std::int64_t data_size) {
  CBEDNET_REQUIRE(from.spec.in_channels == data_channels, InvalidArgument, "--init-from ", path, ": its model (",
                  from.spec.arch, ") takes ", from.spec.in_channels, " input channel(s), the data gives ",
                  data_channels);
  ResNetSpec spec = from.spec;
  spec.classes = run.classes;
  spec.dropout = run.dropout;
  spec.zero_init_residual = false;  // the residual branches come from the checkpoint
  spec.input_size = data_size;      // convolutions and the global pool take any size
  return spec;
}

bool initialise_from(Stage& stage, const std::string& path, const io::CheckpointInfo& from, const ResNetSpec& spec) {
  const bool new_head = from.spec.classes != spec.classes;
  ModelTensors start = collect_tensors(stage.store());  // fresh: the new head's initialisation, zero momentum
  io::LoadedCheckpoint loaded = io::load_checkpoint(path, from.spec);
  for (auto [mine, theirs, group] : {std::tuple{&start.parameters, &loaded.tensors.parameters, "parameters"},
                                     std::tuple{&start.buffers, &loaded.tensors.buffers, "buffers"}}) {
    for (auto& [name, tensor] : *mine) {
      if (new_head && name.rfind("head.", 0) == 0) continue;
      const auto it = theirs->find(name);
      CBEDNET_REQUIRE(it != theirs->end(), IoError, "--init-from ", path, ": ", group, "/", name,
                      " missing (the checkpoint does not match the model)");
      CBEDNET_REQUIRE(it->second.shape() == tensor.shape(), IoError, "--init-from ", path, ": ", group, "/", name,
                      " is ", it->second.shape().str(), ", the model needs ", tensor.shape().str());
      tensor = std::move(it->second);
    }
  }
  assign_tensors(stage.store(), start, path);
  return new_head;
}

}  // namespace cbednet::app
