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
