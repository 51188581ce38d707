// Options that describe a model, shared by model, bench, train, evaluate and predict.
#pragma once

#include "app/options.hpp"
#include "core/model/resnet.hpp"

namespace cbednet::app {

// --arch, --classes, --size, --in-channels, --width, --width-multiplier, --stem, --dropout, --zero-init-residual
// (without --size and --in-channels when the data decides them: with_input = false).
po::options_description model_options(std::int64_t default_size = 512, bool with_input = true);
// Throws InvalidArgument naming the option for bad values.
ResNetSpec model_spec_from(const po::variables_map& vm);

}  // namespace cbednet::app
