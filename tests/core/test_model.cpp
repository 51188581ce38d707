// ResNet builder: parameter and MAC counts against torchvision's published models, shapes, bad input.
#include <gtest/gtest.h>

#include "core/model/model.hpp"

using namespace cbednet;

namespace {
Model make(const std::string& arch, std::int64_t classes, std::int64_t size) {
  ResNetSpec spec = resnet_spec(arch);
  spec.classes = classes;
  spec.input_size = size;
  return build_resnet(spec);
}
}  // namespace

// torchvision.models.<arch>(num_classes=1000) parameter counts; with 230 classes the fc shrinks by 770 * (in + 1).
TEST(ResNet, ParameterCountsMatchTorchvision) {
  EXPECT_EQ(make("resnet18", 1000, 224).parameter_count(), 11689512);
  EXPECT_EQ(make("resnet34", 1000, 224).parameter_count(), 21797672);
  EXPECT_EQ(make("resnet50", 1000, 224).parameter_count(), 25557032);
  EXPECT_EQ(make("resnet101", 1000, 224).parameter_count(), 44549160);
  EXPECT_EQ(make("resnet152", 1000, 224).parameter_count(), 60192808);
  EXPECT_EQ(make("resnet50", 230, 512).parameter_count(), 23979302);  // the figure
  EXPECT_EQ(make("resnet18", 230, 512).parameter_count(), 11689512 - 770 * 513);
}

// Forward GMACs at 224x224 (torchvision's model card) and ResNet-50 at 512x512 (resnet_cost.py): within 1%.
TEST(ResNet, ForwardMacs) {
  const std::pair<const char*, double> at224[] = {
      {"resnet18", 1.814}, {"resnet34", 3.664}, {"resnet50", 4.089}, {"resnet101", 7.801}, {"resnet152", 11.514}};
  for (const auto& [arch, gmac] : at224) {
    const double got = static_cast<double>(make(arch, 1000, 224).forward_macs_per_sample()) / 1e9;
    EXPECT_NEAR(got, gmac, 0.01 * gmac) << arch;
  }
  const double r50 = static_cast<double>(make("resnet50", 230, 512).forward_macs_per_sample()) / 1e9;
  EXPECT_NEAR(r50, 21.35, 0.01 * 21.35);
}

TEST(ResNet, BlockShapesAndNames) {
  const Model m = make("resnet50", 230, 512);
  ASSERT_EQ(m.size(), 1u + 16u + 1u);
  EXPECT_EQ(m.info().front().name, "stem");
  EXPECT_EQ(m.info().front().output, (Shape{1, 64, 128, 128}));
  EXPECT_EQ(m.info()[1].name, "layer1.0");
  EXPECT_EQ(m.info()[1].output, (Shape{1, 256, 128, 128}));
  EXPECT_EQ(m.info()[16].output, (Shape{1, 2048, 16, 16}));
  EXPECT_EQ(m.info().back().output, (Shape{1, 230, 1, 1}));
  std::int64_t params = 0;
  for (const auto& b : m.info()) params += b.cost.parameters;
  EXPECT_EQ(params, m.parameter_count());
}

TEST(ResNet, DeepAndCustomVariants) {
  const ResNetSpec deep = resnet_spec("resnet1001");
  int blocks = 0;
  for (int b : deep.stage_blocks) blocks += b;
  EXPECT_EQ(3 * blocks + 2, 1001);
  ResNetSpec tiny = resnet_spec("basic:1,1");
  tiny.base_width = 4;
  tiny.input_size = 8;
  tiny.classes = 5;
  tiny.stem = StemKind::small;
  const Model m = build_resnet(tiny);
  EXPECT_EQ(m.size(), 4u);
  EXPECT_EQ(m.info().back().output, (Shape{1, 5, 1, 1}));
}

TEST(ResNet, BadInputNamesTheCulprit) {
  EXPECT_THROW(resnet_spec("resnet51"), InvalidArgument);
  EXPECT_THROW(resnet_spec("vgg16"), InvalidArgument);
  EXPECT_THROW(resnet_spec("basic:2,x"), InvalidArgument);
  EXPECT_THROW(make("resnet50", 230, 0), InvalidArgument);
  // Incompatible shapes between layers: the error names the layer and both shapes.
  const ResidualBlock block("layer2.0", ResidualBlock::Kind::bottleneck, 256, 128, 2, false);
  try {
    block.output_shape({1, 64, 32, 32});
    FAIL() << "no exception";
  } catch (const ShapeError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("layer2.0.conv1"), std::string::npos) << message;
    EXPECT_NE(message.find("64 channels"), std::string::npos) << message;
  }
  const Conv2d conv("stem.conv", 3, 8, 7, 2, 0);
  EXPECT_THROW(conv.output_shape({1, 3, 5, 5}), ShapeError);  // 5x5 input, 7x7 kernel, no padding
}

namespace {

struct Counts {
  std::int64_t total = 0, weights = 0;  // weights: conv and linear weights only (no batch norm, no bias)
};

Counts parameters_of(const std::string& arch, std::int64_t classes, std::int64_t size) {
  ResNetSpec spec = resnet_spec(arch);
  spec.classes = classes;
  spec.input_size = size;
  Model model = build_resnet(spec);
  Counts c{model.parameter_count(), 0};
  for (std::size_t b = 0; b < model.size(); ++b)
    for (Layer* layer : model.block(b).layers())
      for (const ParamSpec& p : layer->param_specs())
        if (p.kind == ParamKind::conv_weight || p.kind == ParamKind::linear_weight) c.weights += p.shape.count();
  return c;
}

}  // namespace

// He et al. 2016, "Identity Mappings in Deep Residual Networks", give ResNet-164 1.7M and ResNet-1001 10.2M
// parameters (CIFAR-10, Table 3) and ResNet-200 64.7M (ImageNet, 1000 classes; the figure of its code release,
// fb.resnet.torch). The figures are rounded to 0.1M. The CIFAR ones match the convolution and linear weights
// (ResNet-1001: 10.18M; with the batch-norm scales and shifts of its 333 units the total is 10.33M), the ImageNet
// one the total (64.67M; its batch norm is 0.2% of it). The exact totals are pinned too, so any change to the
// architecture shows.
TEST(PreActResNet, ParameterCountsMatchThePaper) {
  const Counts r164 = parameters_of("preresnet164", 10, 32);
  const Counts r1001 = parameters_of("preresnet1001", 10, 32);
  const Counts r200 = parameters_of("preresnet200", 1000, 224);
  EXPECT_NEAR(static_cast<double>(r164.weights), 1.7e6, 0.05e6);
  EXPECT_NEAR(static_cast<double>(r1001.weights), 10.2e6, 0.05e6);
  EXPECT_NEAR(static_cast<double>(r200.total), 64.7e6, 0.05e6);
  EXPECT_EQ(r164.total, 1703258);
  EXPECT_EQ(r1001.total, 10327706);
  EXPECT_EQ(r200.total, 64666280);
  std::printf("weights / total: preresnet164 %lld / %lld, preresnet1001 %lld / %lld, preresnet200 %lld / %lld\n",
              static_cast<long long>(r164.weights), static_cast<long long>(r164.total),
              static_cast<long long>(r1001.weights), static_cast<long long>(r1001.total),
              static_cast<long long>(r200.weights), static_cast<long long>(r200.total));
}

TEST(PreActResNet, PublishedConfigurations) {
  const ResNetSpec r1001 = resnet_spec("preresnet1001");
  EXPECT_TRUE(r1001.pre_activation);
  EXPECT_EQ(r1001.block, ResidualBlock::Kind::bottleneck);
  EXPECT_EQ(r1001.stage_blocks, (std::vector<int>{111, 111, 111}));
  EXPECT_EQ(r1001.base_width, 16);
  EXPECT_EQ(r1001.stem, StemKind::small);
  const ResNetSpec r110 = resnet_spec("preresnet110");
  EXPECT_EQ(r110.block, ResidualBlock::Kind::basic);
  EXPECT_EQ(r110.stage_blocks, (std::vector<int>{18, 18, 18}));
  const ResNetSpec r200 = resnet_spec("preresnet200");
  EXPECT_EQ(r200.stage_blocks, (std::vector<int>{3, 24, 36, 3}));
  EXPECT_EQ(r200.base_width, 64);
  EXPECT_EQ(r200.stem, StemKind::imagenet);
  // Layer order and names: BN before its convolution, a projection shortcut only when the shape changes, the final
  // BN in the head; no batch norm in the small stem and none after a unit's addition.
  ResNetSpec tiny = resnet_spec("preact-bottleneck:2,1");
  tiny.base_width = 4;
  tiny.input_size = 8;
  tiny.classes = 3;
  tiny.stem = StemKind::small;
  Model m = build_resnet(tiny);
  std::vector<std::string> names;
  for (std::size_t b = 0; b < m.size(); ++b)
    for (Layer* layer : m.block(b).layers()) names.push_back(layer->name());
  EXPECT_EQ(names, (std::vector<std::string>{"stem.conv",
                                             "layer1.0.bn1",
                                             "layer1.0.conv1",
                                             "layer1.0.bn2",
                                             "layer1.0.conv2",
                                             "layer1.0.bn3",
                                             "layer1.0.conv3",
                                             "layer1.0.shortcut.conv",
                                             "layer1.1.bn1",
                                             "layer1.1.conv1",
                                             "layer1.1.bn2",
                                             "layer1.1.conv2",
                                             "layer1.1.bn3",
                                             "layer1.1.conv3",
                                             "layer2.0.bn1",
                                             "layer2.0.conv1",
                                             "layer2.0.bn2",
                                             "layer2.0.conv2",
                                             "layer2.0.bn3",
                                             "layer2.0.conv3",
                                             "layer2.0.shortcut.conv",
                                             "head.bn",
                                             "head.fc"}));
  std::int64_t params = 0;
  for (const auto& b : m.info()) params += b.cost.parameters;
  EXPECT_EQ(params, m.parameter_count());
}

TEST(PreActResNet, DepthsNoBlockCountGivesAreRefusedNamingTheArchitecture) {
  for (const std::string arch : {"preresnet1000", "preresnet21", "preresnet5", "preresnet", "preresnetx"}) {
    try {
      resnet_spec(arch);
      ADD_FAILURE() << arch << ": no error";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(arch), std::string::npos) << e.what();
    }
  }
  // The post-activation family is unchanged.
  EXPECT_FALSE(resnet_spec("resnet1001").pre_activation);
  EXPECT_EQ(resnet_spec("resnet200").stage_blocks, (std::vector<int>{3, 24, 36, 3}));
}
