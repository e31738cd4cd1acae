"""PiSSA and OLoRA initialisation of PEFT 0.21 on fixtures/tiny-llama, for @lora/peft.

Regenerate (from the repository root, with the parity venv described in tools/parity/README.md):

    /opt/parity/bin/python tools/parity/peft/make_pissa_olora.py

For each case in CASES this wraps fixtures/tiny-llama (written by tools/parity/make_models.py) with
peft.get_peft_model using init_lora_weights="pissa" (exact SVD) or "olora" (QR), layer 0 only, and
writes to fixtures/peft/pissa-olora/:

- reference.safetensors: for each case and target module, `<case>.<module>.w_res` (PEFT's residual
  base weight after init, torch [out, in]) and `<case>.<module>.ba` (the product lora_B @ lora_A,
  [out, in], unscaled; SVD/QR sign ambiguities cancel in it), float32.
- reference.json: per case the LoraConfig kwargs, the scaling and the module list.

Deterministic: no randomness is involved (torch.linalg.svd / qr on float32 CPU).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fixtures"
OUT = FIXTURES / "peft" / "pissa-olora"

# case -> LoraConfig kwargs (layer 0 only keeps the fixture small)
CASES: dict[str, dict] = {
    "pissa": dict(r=4, lora_alpha=8, init_lora_weights="pissa", target_modules=["q_proj", "down_proj"], layers_to_transform=[0]),
    "olora": dict(r=4, lora_alpha=16, init_lora_weights="olora", target_modules=["q_proj", "up_proj", "down_proj"], layers_to_transform=[0]),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, dict] = {}
    for case, kwargs in CASES.items():
        model = AutoModelForCausalLM.from_pretrained(FIXTURES / "tiny-llama", dtype=torch.float32)
        peft_model = get_peft_model(model, LoraConfig(**kwargs))
        modules = []
        scaling = None
        for name, module in peft_model.named_modules():
            if not hasattr(module, "lora_A") or "default" not in module.lora_A:
                continue
            short = name.split("model.layers.0.")[-1]
            modules.append(short)
            scaling = module.scaling["default"]
            a = module.lora_A["default"].weight.detach()
            b = module.lora_B["default"].weight.detach()
            tensors[f"{case}.{short}.w_res"] = module.base_layer.weight.detach().clone().contiguous()
            tensors[f"{case}.{short}.ba"] = (b @ a).contiguous()
        meta[case] = dict(config=kwargs, scaling=scaling, modules=modules)
    save_file(tensors, OUT / "reference.safetensors")
    (OUT / "reference.json").write_text(json.dumps(dict(base="tiny-llama", cases=meta), indent=2) + "\n")


if __name__ == "__main__":
    main()
