#!/usr/bin/env python3
"""ONNX side of CBEDNet's interop tests (tests/interop, tests/app/onnx.sh), with PyPI's onnx and onnxruntime.

  compare MODEL INPUT.bin N,C,H,W EXPECTED.bin [RTOL]
      checks MODEL with onnx's checker, runs it in onnxruntime on the float32 input and compares its logits with
      the expected float64 [N, K] ones: max |ort - expected| / max |expected| <= RTOL (default 1e-4); the
      probabilities output must be the softmax of the logits.
  torchvision OUT.onnx INPUT.bin LOGITS.bin [--block basic|bottleneck] [--counts 2,2,2,2] [--width 8]
      [--classes 5] [--size 32] [--stem imagenet|small] [--fold] [--head gap|reducemean] [--flatten flatten|reshape]
      builds a ResNet with onnx's helper API in the form torch.onnx.export gives torchvision's resnets (node and
      initializer names like /layer1/layer1.0/conv1/Conv, onnx::Conv_193 for folded weights), random weights and
      batch-norm statistics, opset 17; writes it, a random input and onnxruntime's logits (float64).
  bad KIND IN.onnx OUT.onnx
      writes a broken variant of IN.onnx: old-opset, unsupported-op, missing-initializer, shape-mismatch.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def run(model_path, x):
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = session.run(None, {session.get_inputs()[0].name: x})
    return dict(zip(names, outputs))


def compare(model_path, input_path, shape, expected_path, rtol=1e-4):
    onnx.checker.check_model(onnx.load(model_path), full_check=True)
    n, c, h, w = (int(v) for v in shape.split(","))
    x = np.fromfile(input_path, dtype=np.float32).reshape(n, c, h, w)
    expected = np.fromfile(expected_path, dtype=np.float64).reshape(n, -1)
    out = run(model_path, x)
    logits = out["logits"].astype(np.float64)
    err = np.abs(logits - expected).max() / max(np.abs(expected).max(), 1e-30)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    softmax_err = np.abs(out["probabilities"] - e / e.sum(axis=1, keepdims=True)).max()
    print(f"{model_path}: logits {logits.shape}, relative error {err:.3g} (limit {rtol}), softmax error "
          f"{softmax_err:.3g}")
    return 0 if err <= float(rtol) and softmax_err <= 1e-6 else 1


class Builder:
    """A torchvision ResNet in torch.onnx.export's naming."""

    def __init__(self, rng, fold):
        self.rng, self.fold = rng, fold
        self.nodes, self.inits, self.counter = [], [], 100

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def anonymous(self, kind):
        self.counter += 1
        return f"onnx::{kind}_{self.counter}"

    def conv_bn(self, prefix, x, cin, cout, k, stride, bn_name, conv_name):
        w = self.rng.normal(0, np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k))
        gamma = self.rng.uniform(0.5, 1.5, cout)
        beta = self.rng.normal(0, 0.1, cout)
        mean = self.rng.normal(0, 0.1, cout)
        var = self.rng.uniform(0.5, 1.5, cout)
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4, dilations=[1, 1], group=1)
        out = f"{prefix}/Conv_output_0"
        if self.fold:  # what torch.onnx.export does in eval mode: BN folded into the conv, anonymous initializers
            s = gamma / np.sqrt(var + 1e-5)
            wn = self.init(self.anonymous("Conv"), w * s[:, None, None, None])
            bn = self.init(self.anonymous("Conv"), beta - mean * s)
            self.nodes.append(helper.make_node("Conv", [x, wn, bn], [out], name=f"{prefix}/Conv", **attrs))
            return out
        wn = self.init(f"{conv_name}.weight", w)
        self.nodes.append(helper.make_node("Conv", [x, wn], [out], name=f"{prefix}/Conv", **attrs))
        bn_out = f"{prefix}_bn/BatchNormalization_output_0"
        ins = [self.init(f"{bn_name}.{p}", v) for p, v in
               (("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", var))]
        self.nodes.append(helper.make_node("BatchNormalization", [out] + ins, [bn_out],
                                           name=f"{prefix}_bn/BatchNormalization", epsilon=1e-5, momentum=0.9))
        return bn_out

    def relu(self, prefix, x):
        out = f"{prefix}/Relu_output_0"
        self.nodes.append(helper.make_node("Relu", [x], [out], name=f"{prefix}/Relu"))
        return out


def torchvision(out_path, input_path, logits_path, block="basic", counts="2,2,2,2", width=8, classes=5, size=32,
                stem="imagenet", fold=False, head="gap", flatten="flatten", seed=7):
    rng = np.random.default_rng(int(seed))
    b = Builder(rng, fold)
    width, classes, size = int(width), int(classes), int(size)
    counts = [int(c) for c in counts.split(",")]
    k, s = (7, 2) if stem == "imagenet" else (3, 1)
    x = b.conv_bn("/conv1", "input", 3, width, k, s, "bn1", "conv1")
    x = b.relu("/relu", x)
    if stem == "imagenet":
        b.nodes.append(helper.make_node("MaxPool", [x], ["/maxpool/MaxPool_output_0"], name="/maxpool/MaxPool",
                                        kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=0))
        x = "/maxpool/MaxPool_output_0"
    cin = width
    expansion = 1 if block == "basic" else 4
    for stage, count in enumerate(counts):
        w = width << stage
        for i in range(count):
            stride = 2 if (i == 0 and stage > 0) else 1
            p = f"/layer{stage + 1}/layer{stage + 1}.{i}"
            n = f"layer{stage + 1}.{i}"
            if block == "basic":
                h = b.relu(f"{p}/relu", b.conv_bn(f"{p}/conv1", x, cin, w, 3, stride, f"{n}.bn1", f"{n}.conv1"))
                h = b.conv_bn(f"{p}/conv2", h, w, w, 3, 1, f"{n}.bn2", f"{n}.conv2")
            else:
                h = b.relu(f"{p}/relu", b.conv_bn(f"{p}/conv1", x, cin, w, 1, 1, f"{n}.bn1", f"{n}.conv1"))
                h = b.relu(f"{p}/relu_1", b.conv_bn(f"{p}/conv2", h, w, w, 3, stride, f"{n}.bn2", f"{n}.conv2"))
                h = b.conv_bn(f"{p}/conv3", h, w, w * 4, 1, 1, f"{n}.bn3", f"{n}.conv3")
            shortcut = x
            if stride != 1 or cin != w * expansion:
                shortcut = b.conv_bn(f"{p}/downsample/downsample.0", x, cin, w * expansion, 1, stride,
                                     f"{n}.downsample.1", f"{n}.downsample.0")
            b.nodes.append(helper.make_node("Add", [h, shortcut], [f"{p}/Add_output_0"], name=f"{p}/Add"))
            x = b.relu(f"{p}/relu_2", f"{p}/Add_output_0")
            cin = w * expansion
    if head == "gap":
        b.nodes.append(helper.make_node("GlobalAveragePool", [x], ["/avgpool/GlobalAveragePool_output_0"],
                                        name="/avgpool/GlobalAveragePool"))
    else:
        b.nodes.append(helper.make_node("ReduceMean", [x], ["/avgpool/GlobalAveragePool_output_0"],
                                        name="/avgpool/ReduceMean", axes=[2, 3], keepdims=1))
    pooled = "/avgpool/GlobalAveragePool_output_0"
    if flatten == "flatten":
        b.nodes.append(helper.make_node("Flatten", [pooled], ["/Flatten_output_0"], name="/Flatten", axis=1))
    else:
        shape = numpy_helper.from_array(np.array([-1, cin], dtype=np.int64), "/Constant_output_0")
        b.nodes.append(helper.make_node("Constant", [], ["/Constant_output_0"], name="/Constant", value=shape))
        b.nodes.append(helper.make_node("Reshape", [pooled, "/Constant_output_0"], ["/Flatten_output_0"],
                                        name="/Reshape"))
    fc_w = b.init("fc.weight", rng.normal(0, 0.2, (classes, cin)))
    fc_b = b.init("fc.bias", rng.normal(0, 0.1, classes))
    b.nodes.append(helper.make_node("Gemm", ["/Flatten_output_0", fc_w, fc_b], ["output"], name="/fc/Gemm",
                                    alpha=1.0, beta=1.0, transB=1))
    graph = helper.make_graph(
        b.nodes, "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch_size", 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch_size", classes])], b.inits)
    model = helper.make_model(graph, producer_name="pytorch", opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, out_path)
    x = rng.normal(0, 1, (3, 3, size, size)).astype(np.float32)
    x.tofile(input_path)
    session = ort.InferenceSession(out_path, providers=["CPUExecutionProvider"])
    session.run(None, {"input": x})[0].astype(np.float64).tofile(logits_path)
    print(f"wrote {out_path}: {block} {counts}, width {width}, {classes} classes, size {size}, stem {stem}, "
          f"fold {fold}, head {head}, {flatten}")
    return 0


def bad(kind, in_path, out_path):
    model = onnx.load(in_path)
    g = model.graph
    if kind == "old-opset":
        model.opset_import[0].version = 9
    elif kind == "unsupported-op":
        node = next(n for n in g.node if n.op_type == "Relu")
        node.op_type = "Sigmoid"
        node.name = "the_sigmoid"
    elif kind == "missing-initializer":
        victim = next(t for t in g.initializer if t.name.endswith("conv2.weight") or "Conv" in t.name)
        g.initializer.remove(victim)
    elif kind == "shape-mismatch":
        victim = next(t for t in g.initializer if t.name.endswith(".fc.weight") or t.name == "fc.weight")
        a = numpy_helper.to_array(victim)
        victim.CopyFrom(numpy_helper.from_array(np.concatenate([a, a[:, :1]], axis=1), victim.name))
    else:
        raise SystemExit(f"unknown kind {kind}")
    onnx.save(model, out_path)
    return 0


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    positional = [a for a in args if not a.startswith("--")]
    options = {}
    i = 0
    while i < len(args):
        if args[i] == "--fold":
            options["fold"] = True
        elif args[i].startswith("--"):
            options[args[i][2:]] = args[i + 1]
            i += 1
            positional.remove(args[i])
        i += 1
    sys.exit({"compare": compare, "torchvision": torchvision, "bad": bad}[command](*positional, **options))
