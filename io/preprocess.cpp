#include "io/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace cbednet::io {

void Preprocess::validate(int S) const {
  CBEDNET_REQUIRE(downsample == 1 || downsample == 2 || downsample == 4, InvalidArgument,
                  "preprocessing: downsample must be 1, 2 or 4, got ", downsample);
  CBEDNET_REQUIRE(S > 0 && S % downsample == 0, InvalidArgument, "preprocessing: size ", S,
                  " is not divisible by the downsampling factor ", downsample);
  CBEDNET_REQUIRE(mean.size() == stddev.size(), InvalidArgument, "preprocessing: ", mean.size(), " means but ",
                  stddev.size(), " standard deviations");
  CBEDNET_REQUIRE(mean.empty() || static_cast<int>(mean.size()) == channels(), InvalidArgument,
                  "preprocessing: normalisation has ", mean.size(), " channels, the data has ", channels());
  for (float s : stddev)
    CBEDNET_REQUIRE(s > 0.0F && std::isfinite(s), InvalidArgument, "preprocessing: standard deviation ", s,
                    " must be positive");
}

Shape Preprocess::sample_shape(int S) const { return Shape{1, channels(), out_size(S), out_size(S)}; }

namespace {
std::string join(const std::vector<float>& v) {
  std::ostringstream out;
  out.precision(9);
  for (std::size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  return out.str();
}
std::vector<float> split_floats(const std::string& text, const std::string& what) {
  std::vector<float> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      values.push_back(std::stof(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw_error<InvalidArgument>("preprocessing: ", what, ": '", item, "' is not a number");
    }
  }
  return values;
}
}  // namespace

std::string Preprocess::describe() const {
  std::ostringstream out;
  out << "log_scale=" << (log_scale ? 1 : 0) << ";downsample=" << downsample
      << ";views=" << (separate_views ? "separate" : "stack") << ";mean=" << join(mean) << ";std=" << join(stddev);
  return out.str();
}

Preprocess Preprocess::parse(const std::string& text) {
  Preprocess p;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ';')) {
    const auto eq = item.find('=');
    CBEDNET_REQUIRE(eq != std::string::npos, InvalidArgument, "preprocessing: '", item, "' is not key=value");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "log_scale") {
      p.log_scale = value == "1";
    } else if (key == "downsample") {
      CBEDNET_REQUIRE(value == "1" || value == "2" || value == "4", InvalidArgument,
                      "preprocessing: downsample must be 1, 2 or 4, got '", value, "'");
      p.downsample = value[0] - '0';
    } else if (key == "views") {
      CBEDNET_REQUIRE(value == "stack" || value == "separate", InvalidArgument, "preprocessing: views=", value);
      p.separate_views = value == "separate";
    } else if (key == "mean") {
      p.mean = split_floats(value, "mean");
    } else if (key == "std") {
      p.stddev = split_floats(value, "std");
    } else {
      throw_error<InvalidArgument>("preprocessing: unknown key '", key, "'");
    }
  }
  return p;
}

void transform_pixels(const Preprocess& p, const float* in, int channels, int S, float* out) {
  const int f = p.downsample;
  const int R = S / f;
  const float inv_area = 1.0F / static_cast<float>(f * f);
  const auto value = [&](float v) {
    if (!p.log_scale) return v;
    // max(ln I, -17) + 17 then x10; I <= 0 (no signal) maps to the floor.
    const float l = v > 0.0F ? std::max(std::log(v), -17.0F) : -17.0F;
    return (l + 17.0F) * 10.0F;
  };
  for (int c = 0; c < channels; ++c) {
    const float* src = in + static_cast<std::size_t>(c) * S * S;
    float* dst = out + static_cast<std::size_t>(c) * R * R;
    if (f == 1) {
      for (std::size_t j = 0; j < static_cast<std::size_t>(S) * S; ++j) dst[j] = value(src[j]);
      continue;
    }
    for (int y = 0; y < R; ++y) {
      for (int x = 0; x < R; ++x) {
        float sum = 0.0F;
        for (int dy = 0; dy < f; ++dy)
          for (int dx = 0; dx < f; ++dx) sum += value(src[static_cast<std::size_t>(y * f + dy) * S + x * f + dx]);
        dst[static_cast<std::size_t>(y) * R + x] = sum * inv_area;
      }
    }
  }
}

void normalise(const Preprocess& p, float* chw, int channels, std::int64_t hw) {
  if (p.mean.empty()) return;
  for (int c = 0; c < channels; ++c) {
    const float m = p.mean[c], inv = 1.0F / p.stddev[c];
    float* x = chw + c * hw;
    for (std::int64_t j = 0; j < hw; ++j) x[j] = (x[j] - m) * inv;
  }
}

void preprocess_stack(const Preprocess& p, const float* stack, int S, int view, float* out) {
  const int C = p.channels();
  const float* in = p.separate_views ? stack + static_cast<std::size_t>(view) * S * S : stack;
  transform_pixels(p, in, C, S, out);
  const std::int64_t R = p.out_size(S);
  normalise(p, out, C, R * R);
}

}  // namespace cbednet::io
