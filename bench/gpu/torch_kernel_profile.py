#!/usr/bin/env python3
"""PyTorch's GPU kernel time per training step, by kernel and by kind (issue 20 item 7's per-kernel breakdown).

The counterpart of `cbednet bench --profile-ops` on the PyTorch side, run in the same device call as CBEDNet's
benchmark (scripts/gpu-run.sh): torchvision's ResNet, random inputs, SGD with momentum, autocast and
channels_last as torch_resnet_baseline.py's modes have them, `steps` steps under torch.profiler after a warm-up.
Prints one JSON line: the kernel time per step in ms by kind (convolutions + GEMM, batch norm, elementwise,
pooling, optimizer, other; kinds matched on kernel names) and the 40 costliest kernels.

  python3 bench/gpu/torch_kernel_profile.py --arch resnet50 --size 512 --batch 64 --mode bf16cl --json out.jsonl
"""
import argparse
import json
import re
import sys

KINDS = [  # first match wins; patterns on lower-cased CUDA kernel names
    ("optimizer", r"multi_tensor|sgd|adam|foreach"),
    ("batch_norm", r"batch_norm|batchnorm|bn_fw|bn_bw|welford|cudnn::bn|native_batch_norm"),
    ("pooling", r"pool"),
    ("convolution_gemm", r"conv|gemm|cutlass|xmma|sm\d+_|implicit|wgrad|dgrad|fprop|cudnn|nchwtonhwc|nhwctonchw"),
    ("elementwise", r"elementwise|vectorized|unrolled|relu|add|mul|copy|fill|reduce|softmax|nll|cross|index"),
]


def kind_of(name):
    lower = name.lower()
    for kind, pattern in KINDS:
        if re.search(pattern, lower):
            return kind
    return "other"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--classes", type=int, default=230)
    p.add_argument("--mode", default="bf16cl", help="fp32, tf32, bf16cl or fp16cl (torch_resnet_baseline.py's)")
    p.add_argument("--warmup", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--json", default=None, help="append the JSON line to this file too")
    a = p.parse_args()

    import torch
    import torchvision
    from torch.profiler import ProfilerActivity, profile

    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = a.mode != "fp32"
    torch.backends.cudnn.allow_tf32 = a.mode != "fp32"
    channels_last = "cl" in a.mode
    amp = torch.bfloat16 if a.mode.startswith("bf16") else torch.float16 if a.mode.startswith("fp16") else None
    model = getattr(torchvision.models, a.arch)(weights=None, num_classes=a.classes).to(dev)
    x = torch.randn(a.batch, 3, a.size, a.size, device=dev)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=(amp == torch.float16))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    model.train()
    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(a.steps):
            step()
        torch.cuda.synchronize()

    per_kernel = {}
    for e in prof.events():
        if e.device_type.name != "CUDA":
            continue
        us = e.device_time_total if hasattr(e, "device_time_total") else e.cuda_time_total
        entry = per_kernel.setdefault(e.name, [0, 0.0])
        entry[0] += 1
        entry[1] += us
    by_kind = {}
    for name, (_, us) in per_kernel.items():
        k = kind_of(name)
        by_kind[k] = by_kind.get(k, 0.0) + us / 1e3 / a.steps
    top = sorted(per_kernel.items(), key=lambda kv: -kv[1][1])[:40]
    result = {
        "peer": "pytorch", "benchmark": "kernel_profile", "arch": a.arch, "size": a.size, "batch": a.batch,
        "mode": a.mode, "steps": a.steps, "torch": torch.__version__,
        "device": torch.cuda.get_device_properties(0).name,
        "kernel_ms_per_step": round(sum(by_kind.values()), 3),
        "by_kind_ms_per_step": {k: round(v, 3) for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])},
        "top_kernels": [{"kernel": n[:160], "calls_per_step": c / a.steps, "ms_per_step": round(us / 1e3 / a.steps, 3),
                         "kind": kind_of(n)} for n, (c, us) in top],
    }
    line = json.dumps(result)
    print(line, flush=True)
    if a.json:
        with open(a.json, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
