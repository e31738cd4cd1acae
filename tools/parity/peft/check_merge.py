"""Checks `lora merge` output with transformers + PEFT: the merged folder must load with
AutoModelForCausalLM and give the logits of PeftModel.from_pretrained(base, adapter) on the
original base. Writes no fixture; prints max |diff| per case and exits 1 over the tolerance.

Two steps per case (run from the repository root, LORA_ASSETS_DIR=../shared):

    # 1. an adapter with random non-zero lora_B, written by PEFT on the base as transformers loads it
    /opt/parity/bin/python tools/parity/peft/check_merge.py make-adapter --base B [--gguf-file F] --out A
    # 2. merge with @lora, then compare
    pnpm lora merge --model M --adapter A --out O
    /opt/parity/bin/python tools/parity/peft/check_merge.py check --base B [--gguf-file F] --adapter A --merged O

Cases run for docs/merge.md (B = what transformers loads, M = what `lora merge` reads):

    tiny f32      B = M = fixtures/tiny-llama, A = fixtures/peft/llama-rslora-all-linear (PEFT-written)
    QLoRA / NF4   B = M = fixtures/quant/tiny-llama-nf4 (bitsandbytes 4-bit, compute float32),
                  A = fixtures/peft/llama-lora
    stories260K   B = `lora convert stories260K` output, M = stories260K (the llama2.c .bin), A from step 1
    SmolLM2 GGUF  B = $LORA_ASSETS_DIR/models/SmolLM2-135M-Instruct with --gguf-file (transformers
                  dequantizes it), M = SmolLM2-135M-Instruct, A from step 1, `--dtype float32`

`check` also prints PEFT's own merge noise: merge_and_unload() logits vs the unmerged PeftModel
(skipped for a 4-bit base, where PEFT requantizes the merged weight).
Deterministic: fixed seeds, float32, CPU, attn_implementation="eager".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM


def load_base(base: Path, gguf_file: str | None) -> torch.nn.Module:
    kwargs: dict = {"attn_implementation": "eager"}
    if gguf_file is not None:
        kwargs["gguf_file"] = gguf_file
    config_path = base / "config.json"
    quantized = config_path.exists() and "quantization_config" in config_path.read_text()
    if not quantized:
        kwargs["dtype"] = torch.float32
    return AutoModelForCausalLM.from_pretrained(base, **kwargs).eval()


def input_ids(vocab_size: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, vocab_size, (3, 24), generator=generator)


@torch.no_grad()
def make_adapter(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    model = load_base(args.base, args.gguf_file)
    config = LoraConfig(r=args.r, lora_alpha=2 * args.r, target_modules="all-linear", lora_dropout=0.0)
    peft_model = get_peft_model(model, config)
    for name, parameter in peft_model.named_parameters():
        if "lora_B" in name:
            parameter.normal_(0.0, args.b_std)
    peft_model.save_pretrained(args.out)
    print(f"wrote {args.out} (r={args.r}, all-linear, lora_B ~ N(0, {args.b_std}))")


@torch.no_grad()
def check(args: argparse.Namespace) -> int:
    base = load_base(args.base, args.gguf_file)
    ids = input_ids(base.config.vocab_size)
    base_logits = base(ids).logits.float()
    reference = PeftModel.from_pretrained(base, args.adapter).eval()
    expected = reference(ids).logits.float()
    merged = AutoModelForCausalLM.from_pretrained(args.merged, dtype=torch.float32, attn_implementation="eager").eval()
    actual = merged(ids).logits.float()
    diff = (actual - expected).abs().max().item()
    effect = (expected - base_logits).abs().max().item()
    print(f"{args.merged}: merged vs PEFT base+adapter max |diff| {diff:.3e} (adapter moves logits by up to {effect:.3e})")
    if getattr(base, "is_loaded_in_4bit", False):
        # bitsandbytes' CPU 4-bit forward is not a float32 matmul with the dequantized weight (it
        # differs from one by the `bnb forward` figure below), so the unmerged reference above carries
        # that noise. PEFT's merge dequantizes the weight and adds ΔW in float32: the reference for
        # the merged file is the adapter on transformers' own dequantized base.
        dense = load_base(args.base, args.gguf_file).dequantize().float().eval()
        bnb_noise = (dense(ids).logits.float() - base_logits).abs().max().item()
        exact = PeftModel.from_pretrained(dense, args.adapter).eval()(ids).logits.float()
        diff = (actual - exact).abs().max().item()
        print(f"bnb forward vs dequantized float32 forward (base only): {bnb_noise:.3e}")
        print(f"{args.merged}: merged vs PEFT adapter on the dequantized base (float32) max |diff| {diff:.3e}")
        print("PEFT merge noise: skipped (4-bit base: PEFT requantizes the merged weight)")
    else:
        own = reference.merge_and_unload()(ids).logits.float()
        print(f"PEFT merge noise (merge_and_unload vs unmerged): {(own - expected).abs().max().item():.3e}")
    if effect < 10 * args.tolerance:
        print("FAIL: the adapter barely changes the logits; the check would not see a wrong merge")
        return 1
    if not diff <= args.tolerance:
        print(f"FAIL: over the tolerance {args.tolerance:g}")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make-adapter")
    make.add_argument("--base", type=Path, required=True)
    make.add_argument("--gguf-file")
    make.add_argument("--out", type=Path, required=True)
    make.add_argument("--r", type=int, default=8)
    make.add_argument("--b-std", type=float, default=0.02)
    make.add_argument("--seed", type=int, default=0)
    chk = sub.add_parser("check")
    chk.add_argument("--base", type=Path, required=True)
    chk.add_argument("--gguf-file")
    chk.add_argument("--adapter", type=Path, required=True)
    chk.add_argument("--merged", type=Path, required=True)
    chk.add_argument("--tolerance", type=float, default=2e-3)
    args = parser.parse_args()
    if args.command == "make-adapter":
        make_adapter(args)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
