// ONNX export and import of CBEDNet's ResNets (docs/interop.md).
//
// Export: the network of a checkpoint as an ONNX model (opset 17), written with ONNX's own protobuf classes and
// accepted by its checker before the file is written (atomically). Input `cbed` float32 [N, C, H, W] in raw
// intensities; the checkpoint's preprocessing (log scaling, box downsampling, normalisation) comes first as ONNX
// operators; outputs `logits` [N, classes] and `probabilities` (softmax; for --views random models the mean of the
// three projections' softmaxes, and logits its log). Batch norm is kept as BatchNormalization (inference mode) or
// folded into the convolutions' weights and biases. The metadata let import restore the model exactly.
//
// Import: an ONNX ResNet in the form torch.onnx.export gives for torchvision's resnet18..152 (Conv,
// BatchNormalization, Relu, MaxPool, Add, GlobalAveragePool or ReduceMean, Flatten or Reshape, Gemm; batch norm
// folded into convolution biases or not) becomes a ResNetSpec and the named tensors of a CBEDNet checkpoint. A
// graph CBEDNet cannot represent is an InvalidArgument naming the file, the first node it cannot map, its op type
// and why.
#pragma once

#include <cstdint>
#include <string>

#include "core/model/resnet.hpp"
#include "core/named_tensors.hpp"
#include "io/preprocess.hpp"

namespace cbednet::interop {

inline constexpr int onnx_opset = 17;  // written; import accepts this and later (and torchvision's 11..16, see .cpp)

struct OnnxExportOptions {
  bool fold_batchnorm = false;
};

// What the model's metadata_props record besides the network.
struct OnnxExportInfo {
  std::string config;      // the run's resolved configuration (INI text)
  std::string checkpoint;  // the file exported (doc_string)
};

// Builds the model of `spec` with `tensors` (parameters and batch-norm buffers, f32 or f64, host), checks it with
// onnx::checker and writes `path` atomically. Throws InvalidArgument when the preprocessing or the tensors do not
// fit the model (naming the tensor), IoError when the file cannot be written.
void export_onnx(const std::string& path, const ResNetSpec& spec, const ModelTensors& tensors,
                 const io::Preprocess& preprocess, const OnnxExportInfo& info, const OnnxExportOptions& options);

struct ImportedOnnx {
  ResNetSpec spec;
  ModelTensors tensors;       // parameters and buffers (f32), momentum zero
  io::Preprocess preprocess;  // from a CBEDNet export's metadata; none for other graphs
  std::string config;         // the training configuration a CBEDNet export recorded (empty for other graphs)
};

// Reads `path` and maps its graph onto a CBEDNet ResNet. `input_size` (> 0) overrides the spatial input size
// (needed when the graph's input has symbolic height and width). Throws InvalidArgument naming the file and node.
ImportedOnnx import_onnx(const std::string& path, std::int64_t input_size = 0);

}  // namespace cbednet::interop
