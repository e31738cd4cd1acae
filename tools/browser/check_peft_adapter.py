"""Checks an adapter the browser page saved with the real PEFT: PeftModel.from_pretrained(base,
adapter) must load it (every LoRA tensor used, none missing) and give the logits @lora computed
for the same adapter in Node. Writes no fixture; prints max |diff| and exits 1 over the tolerance.

Run by examples/browser/test/browser.test.ts when /opt/parity/bin/python exists:

    /opt/parity/bin/python tools/browser/check_peft_adapter.py --base B --adapter A --logits L.json

B: a Hugging Face folder of the base (writeHfCheckpoint of stories260K); A: the two downloaded
files; L.json: {"input_ids": [[...]], "logits": [[[...]]]} from @lora's loadPeftModel.
Deterministic: float32, CPU, attn_implementation="eager".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM


@torch.no_grad()
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--adapter", type=Path, required=True)
    parser.add_argument("--logits", type=Path, required=True)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    base = AutoModelForCausalLM.from_pretrained(args.base, dtype=torch.float32, attn_implementation="eager").eval()
    model = PeftModel.from_pretrained(base, args.adapter).eval()
    saved = load_file(args.adapter / "adapter_model.safetensors")
    # PEFT keeps the adapter name in its state dict keys; the file does not.
    state = {k.replace(".default", ""): v for k, v in model.state_dict().items() if "lora_" in k}
    missing = sorted(set(saved) - set(state))
    if missing:
        print(f"tensors PEFT did not load: {missing[:5]}")
        return 1
    for key, tensor in saved.items():
        loaded = state[key]
        if not torch.equal(loaded, tensor):
            print(f"{key}: loaded tensor differs from the file")
            return 1

    expected = json.loads(args.logits.read_text())
    logits = model(torch.tensor(expected["input_ids"])).logits
    diff = (logits - torch.tensor(expected["logits"])).abs().max().item()
    print(f"PEFT loaded {len(saved)} adapter tensors; logits max |diff| vs @lora = {diff:.3g} (tolerance {args.tolerance:g})")
    return 0 if diff <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
