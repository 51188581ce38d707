// Which cuDNN API ran each convolution: the CUDA backend's "conv_layers" device fact,
// [{"layer": "...", "conv_api": "graph"}, ...] (labels hold no quotes), as (layer, api) pairs.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kernels/backend.hpp"

namespace cbednet::test {

inline std::vector<std::pair<std::string, std::string>> conv_layers(const Backend& backend) {
  std::string json;
  for (const auto& [key, value] : backend.device_facts())
    if (key == "conv_layers") json = value;
  std::vector<std::pair<std::string, std::string>> out;
  const std::string layer_tag = "{\"layer\": \"", api_tag = "\"conv_api\": \"";
  for (std::size_t at = json.find(layer_tag); at != std::string::npos; at = json.find(layer_tag, at + 1)) {
    const std::size_t layer_begin = at + layer_tag.size();
    const std::size_t layer_end = json.find('"', layer_begin);
    const std::size_t api_begin = json.find(api_tag, layer_end) + api_tag.size();
    out.emplace_back(json.substr(layer_begin, layer_end - layer_begin),
                     json.substr(api_begin, json.find('"', api_begin) - api_begin));
  }
  return out;
}

}  // namespace cbednet::test
