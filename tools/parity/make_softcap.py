"""Gemma 3 soft-capping as transformers applies it: tiny checkpoints whose configs SET
`attn_logit_softcapping` and `final_logit_softcapping`, with their logits.

transformers' Gemma 3 keeps `attn_logit_softcapping` in its config but never passes it to the
attention (modeling_gemma3.py: `Gemma3Attention` calls the attention interface without `softcap`;
Gemma 2 passes it). `Gemma3ForCausalLM` soft-caps its final logits; `Gemma3ForConditionalGeneration`
does not read `final_logit_softcapping` at all. The script checks both facts against the same
models with the caps applied by hand, and records how far apart they are.

Regenerate (from the repository root):

    /opt/parity/bin/python tools/parity/make_softcap.py

Writes fixtures/gemma3-softcap/{causal-lm,conditional-generation}/: config.json,
generation_config.json, model.safetensors and reference.json (input_ids, logits, logits_shape,
and `capped_if_applied`: the max abs change of the logits had the attention cap been applied).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
import transformers
from transformers import Gemma3Config, Gemma3ForCausalLM, Gemma3ForConditionalGeneration, SiglipVisionConfig
from transformers.models.gemma3 import modeling_gemma3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_models import FIXTURES, MAX_FOLDER_BYTES, f32_list, folder_bytes, gemma3_text_config, randomize  # noqa: E402

OUT = FIXTURES / "gemma3-softcap"
ATTN_CAP = 1.0  # small, so that applying it would change the scores a lot
FINAL_CAP = 3.0
LAYER_TYPES = ["sliding_attention", "full_attention"]


def text_config(**overrides):
    return gemma3_text_config(
        num_hidden_layers=2,
        layer_types=LAYER_TYPES,
        attn_logit_softcapping=ATTN_CAP,
        final_logit_softcapping=FINAL_CAP,
        **overrides,
    )


def logits_with_attn_cap(model, ids: torch.Tensor) -> torch.Tensor:
    """The logits had the attention been soft-capped (Gemma 2's eager attention with `softcap`)."""
    original = modeling_gemma3.eager_attention_forward

    def capped(*args, **kwargs):
        kwargs["softcap"] = ATTN_CAP
        return original(*args, **kwargs)

    modeling_gemma3.eager_attention_forward = capped
    try:
        with torch.no_grad():
            return model(input_ids=ids, use_cache=False).logits
    finally:
        modeling_gemma3.eager_attention_forward = original


def write(name: str, model, seed: int) -> None:
    out = OUT / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(out, safe_serialization=True)
    reloaded = type(model).from_pretrained(out, dtype=torch.float32, attn_implementation="eager").eval()
    gen = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(4, 256, (2, 12), generator=gen)
    with torch.no_grad():
        logits = reloaded(input_ids=ids, use_cache=False).logits
    attn_capped = logits_with_attn_cap(reloaded, ids)
    attn_effect = (attn_capped - logits).abs().max().item()
    assert attn_effect > 1e-2, f"{name}: the attention cap would change logits by only {attn_effect}"
    # final soft-capping: applied by Gemma3ForCausalLM, not by Gemma3ForConditionalGeneration
    bound = logits.abs().max().item()
    if isinstance(reloaded, Gemma3ForCausalLM):
        assert bound < FINAL_CAP, f"{name}: logits reach {bound} >= cap {FINAL_CAP}"
        with torch.no_grad():
            reloaded.config.final_logit_softcapping = None
            uncapped = reloaded(input_ids=ids, use_cache=False).logits
            reloaded.config.final_logit_softcapping = FINAL_CAP
        torch.testing.assert_close(torch.tanh(uncapped / FINAL_CAP) * FINAL_CAP, logits, rtol=0, atol=1e-6)
        final_effect = (uncapped - logits).abs().max().item()
    else:
        with torch.no_grad():
            by_hand = torch.tanh(logits / FINAL_CAP) * FINAL_CAP
        final_effect = (by_hand - logits).abs().max().item()
    ref = {
        "generator": {
            "script": "tools/parity/make_softcap.py",
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "dtype": "float32",
            "attn_implementation": "eager",
        },
        "input_ids": ids.tolist(),
        "logits": f32_list(logits),
        "logits_shape": list(logits.shape),
        "attn_logit_softcapping": ATTN_CAP,
        "final_logit_softcapping": FINAL_CAP,
        "attn_cap_effect_if_applied": attn_effect,
        "final_cap_effect": final_effect,
    }
    (out / "reference.json").write_text(json.dumps(ref, separators=(",", ":")) + "\n")
    size = folder_bytes(out)
    print(f"{name}: {size} bytes; attention cap would move logits by {attn_effect:.3e}; final cap moves them by {final_effect:.3e}")
    assert size < MAX_FOLDER_BYTES


def main() -> None:
    torch.manual_seed(6006)
    causal = Gemma3ForCausalLM(text_config(attn_implementation="eager"))
    randomize(causal, 0.2)
    write("causal-lm", causal.eval(), 6006)

    torch.manual_seed(7007)
    vision = SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=28,
        patch_size=14,
        vision_use_head=False,
    )
    config = Gemma3Config(
        text_config=text_config(vocab_size=260),
        vision_config=vision,
        mm_tokens_per_image=4,
        boi_token_index=256,
        eoi_token_index=257,
        image_token_index=258,
        attn_implementation="eager",
    )
    mm = Gemma3ForConditionalGeneration(config)
    randomize(mm, 0.2)
    write("conditional-generation", mm.eval(), 7007)


if __name__ == "__main__":
    main()
