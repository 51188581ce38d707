// Names that CBEDNet's ONNX export writes and its import reads back: graph inputs and outputs, metadata keys.
#pragma once

namespace cbednet::interop::onnx_names {

inline constexpr const char* input = "cbed";                      // raw intensities [N, C, H, W]
inline constexpr const char* preprocessed = "cbed_preprocessed";  // the network's input, after the preprocessing
inline constexpr const char* logits = "logits";
inline constexpr const char* probabilities = "probabilities";

inline constexpr const char* meta_version = "cbednet.version";
inline constexpr const char* meta_commit = "cbednet.commit";
inline constexpr const char* meta_arch = "cbednet.arch";
inline constexpr const char* meta_preprocessing = "cbednet.preprocessing";        // io::Preprocess::describe()
inline constexpr const char* meta_input_size = "cbednet.input_size";              // the network's H = W
inline constexpr const char* meta_base_width = "cbednet.base_width";              // ResNetSpec::base_width
inline constexpr const char* meta_width_multiplier = "cbednet.width_multiplier";  // exact (17 digits)
inline constexpr const char* meta_class_map = "cbednet.class_to_space_group";
inline constexpr const char* meta_config = "cbednet.training_config";  // INI text
inline constexpr const char* meta_batchnorm = "cbednet.batchnorm";     // "kept" or "folded"

}  // namespace cbednet::interop::onnx_names
