"""Reference fixtures for @lora/train (optimizers, schedules, loss, gradient clipping).

Writes fixtures/train/{optimizers,schedules,loss,clip}.json from the real libraries:
torch.optim.AdamW / Adam / SGD(momentum), bitsandbytes AdamW8bit (CPU kernel, blockwise 256),
transformers.get_scheduler, transformers ForCausalLMLoss and torch.nn.utils.clip_grad_norm_.

Regenerate from the repository root:
    /opt/parity/bin/python tools/parity/train/make_train_fixtures.py
Deterministic (fixed seeds, float32, CPU).
"""

import json
import math
import os

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "fixtures", "train")
torch.manual_seed(0)


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# ---------------------------------------------------------------- optimizers
SHAPES = {"w": [4, 3], "b": [3]}
STEPS = 5
LRS = [1e-2, 8e-3, 6e-3, 4e-3, 2e-3]  # a changing lr, as a schedule would give


def make_case(kind, kwargs):
    g = torch.Generator().manual_seed(1)
    params = {k: torch.randn(s, generator=g) for k, s in SHAPES.items()}
    grads = [{k: torch.randn(s, generator=g) for k, s in SHAPES.items()} for _ in range(STEPS)]
    init = {k: flat(v) for k, v in params.items()}
    tparams = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    wd = kwargs.pop("weight_decay", 0.0)
    # Weight decay on >= 2-D tensors only (the `b` group gets none), as the trainer does.
    groups = [{"params": [tparams["w"]], "weight_decay": wd}, {"params": [tparams["b"]], "weight_decay": 0.0}]
    opt = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}[kind](groups, lr=LRS[0], **kwargs)
    history = []
    for step in range(STEPS):
        for gr in opt.param_groups:
            gr["lr"] = LRS[step]
        for k, p in tparams.items():
            p.grad = grads[step][k].clone()
        opt.step()
        history.append({k: flat(p) for k, p in tparams.items()})
    return {
        "kind": kind,
        "options": {**kwargs, "weight_decay": wd},
        "shapes": SHAPES,
        "lrs": LRS,
        "init": init,
        "grads": [{k: flat(v) for k, v in gs.items()} for gs in grads],
        "params": history,
    }


cases = [
    make_case("adamw", {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1}),
    make_case("adamw", {"betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.01}),
    make_case("adam", {"betas": (0.9, 0.999), "eps": 1e-8}),
    make_case("adam", {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.05}),
    make_case("sgd", {"momentum": 0.9}),
    make_case("sgd", {"momentum": 0.0, "weight_decay": 0.1}),
    make_case("sgd", {"momentum": 0.9, "dampening": 0.1, "nesterov": False, "weight_decay": 0.01}),
]
for c in cases:
    c["options"]["betas"] = list(c["options"]["betas"]) if "betas" in c["options"] else None


# bitsandbytes' reference blockwise quantizer (backends/default: scale by 1/absmax, bucketize on the
# float32 midpoints of the code). Its CPU C kernel (BinSearch "Direct2") is approximate: it picks a
# non-nearest code for ~4% of small second-moment values, where the CUDA kernel and this reference
# pick the nearest. The fixtures use the reference so that they describe the scheme, not that quirk.
def ref_quantize_blockwise(a, code, blocksize):
    a = a.reshape(-1).float()
    n = a.numel()
    pad = (-n) % blocksize
    blocks = torch.nn.functional.pad(a, (0, pad)).reshape(-1, blocksize)
    absmax = blocks.abs().max(dim=-1)[0]
    # The padded tail must not raise a block's absmax: |0| never does.
    scaled = torch.clamp(blocks * (1.0 / absmax.clamp(min=1e-38).view(-1, 1)), -1, 1).reshape(-1)[:n]
    bounds = (code[:-1] + code[1:]) / 2
    return torch.bucketize(scaled, bounds, out_int32=True).to(torch.uint8), absmax


def use_reference_quantizer():
    import bitsandbytes.backends.cpu.ops as cpu_ops

    def quant(a_fp32, code, absmax_out, out_uint8, blocksize):
        q, absmax = ref_quantize_blockwise(a_fp32, code, blocksize)
        out_uint8.copy_(q.reshape(out_uint8.shape))
        absmax_out.copy_(absmax)

    cpu_ops._quant_blockwise_fp32_direct = quant


# 8-bit blockwise AdamW (bitsandbytes AdamW8bit, CPU update with the reference quantizer): one
# tensor of 600 elements = 2 full blocks + 88.
def make_8bit():
    import bitsandbytes as bnb
    import bitsandbytes.functional as F

    use_reference_quantizer()

    g = torch.Generator().manual_seed(2)
    n = 600
    p0 = torch.randn(n, generator=g)
    grads = [torch.randn(n, generator=g) * (0.1 + i) for i in range(STEPS)]
    p = torch.nn.Parameter(p0.clone())
    opt = bnb.optim.AdamW8bit([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, min_8bit_size=0)
    hist = []
    for step in range(STEPS):
        p.grad = grads[step].clone()
        opt.step()
        st = opt.state[p]
        hist.append({
            "param": flat(p),
            "state1": [int(x) for x in st["state1"].reshape(-1).tolist()],
            "state2": [int(x) for x in st["state2"].reshape(-1).tolist()],
            "absmax1": flat(st["absmax1"]),
            "absmax2": flat(st["absmax2"]),
        })
    return {
        "lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1, "blocksize": 256,
        "signed_map": flat(F.create_dynamic_map(signed=True)),
        "unsigned_map": flat(F.create_dynamic_map(signed=False)),
        "init": flat(p0), "grads": [flat(x) for x in grads], "steps": hist,
    }


# Blockwise quantization alone (signed dynamic map), for the codec test.
def make_blockwise():
    import bitsandbytes.functional as F

    g = torch.Generator().manual_seed(3)
    a = torch.randn(700, generator=g) * torch.linspace(0.001, 3.0, 700)
    code = F.create_dynamic_map(signed=True)
    q, absmax = ref_quantize_blockwise(a, code, 256)
    q_kernel, _ = F.quantize_blockwise(a, code=code, blocksize=256)
    print(f"blockwise: CPU kernel and reference codes differ at {int((q != q_kernel).sum())} of {a.numel()}")
    deq = F.dequantize_blockwise(q, absmax=absmax, code=code, blocksize=256)
    return {"input": flat(a), "codes": [int(x) for x in q.tolist()], "absmax": flat(absmax), "dequantized": flat(deq)}


write("optimizers.json", {"cases": cases, "adamw8bit": make_8bit(), "blockwise": make_blockwise()})

# ---------------------------------------------------------------- schedules
from transformers import get_scheduler  # noqa: E402


def lr_curve(name, warmup, total, **kw):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = get_scheduler(name, opt, num_warmup_steps=warmup, num_training_steps=total, **kw)
    lrs = []
    for _ in range(total + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def warmup_steps(total, warmup):  # TrainingArguments.get_warmup_steps
    return int(warmup) if warmup >= 1 else math.ceil(total * warmup)


sched_cases = []
for name in ["constant", "constant_with_warmup", "linear", "cosine"]:
    for total, warmup in [(20, 0), (20, 5), (17, 0.1), (10, 0.25), (3, 3)]:
        w = warmup_steps(total, warmup)
        sched_cases.append({"name": name, "total": total, "warmup": warmup, "warmupSteps": w, "lrs": lr_curve(name, w, total)})
write("schedules.json", {"baseLr": 1.0, "cases": sched_cases})

# ---------------------------------------------------------------- loss
from transformers.loss.loss_utils import ForCausalLMLoss  # noqa: E402

g = torch.Generator().manual_seed(4)
B, T, V = 3, 7, 50
logits = torch.randn(B, T, V, generator=g) * 3
labels = torch.randint(0, V, (B, T), generator=g)
labels[0, :3] = -100
labels[1, 5:] = -100
labels[2, :] = -100
labels[2, 4] = 11
mean_loss = ForCausalLMLoss(logits, labels, V)
n_items = int((labels[..., 1:] != -100).sum())
sum_loss = ForCausalLMLoss(logits, labels, V, num_items_in_batch=torch.tensor(1.0))
lg = logits.clone().requires_grad_(True)
ForCausalLMLoss(lg, labels, V).backward()
write("loss.json", {
    "shape": [B, T, V], "logits": flat(logits), "labels": [int(x) for x in labels.reshape(-1).tolist()],
    "meanLoss": float(mean_loss), "sumLoss": float(sum_loss), "count": n_items, "grad": flat(lg.grad),
})

# ---------------------------------------------------------------- clip_grad_norm_
g = torch.Generator().manual_seed(5)
clip_cases = []
for max_norm, scale in [(1.0, 1.0), (100.0, 1.0), (0.5, 0.01)]:
    ps = [torch.nn.Parameter(torch.zeros(s)) for s in ([4, 3], [3], [2, 2, 2])]
    grads = [torch.randn(p.shape, generator=g) * scale for p in ps]
    for p, gr in zip(ps, grads):
        p.grad = gr.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    clip_cases.append({"maxNorm": max_norm, "shapes": [list(p.shape) for p in ps], "grads": [flat(x) for x in grads],
                       "totalNorm": float(total), "clipped": [flat(p.grad) for p in ps]})
write("clip.json", {"cases": clip_cases})
