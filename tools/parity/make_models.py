"""Build tiny random decoder checkpoints with the real transformers classes and dump golden outputs.

Regenerate (from the repository root, with the parity venv described in tools/parity/README.md):

    /opt/parity/bin/python tools/parity/make_models.py            # every fixture below
    /opt/parity/bin/python tools/parity/make_models.py tiny-qwen3 # just one folder

Writes, under fixtures/:
    tiny-llama/  tiny-mistral/  tiny-qwen3/  tiny-gemma3/
        config.json, generation_config.json, model.safetensors  (save_pretrained, fp32)
        reference.json  (input_ids, logits, greedy, padded, scores; see fixtures/README.md)
    tiny-gemma3-mm/
        config.json, model.safetensors, keys.json (tensor names + shapes), reference.json (text-only
        logits) of a tiny Gemma3ForConditionalGeneration
    configs/v5-written/
        what transformers 5 writes when handed v4-style rope_theta/rope_scaling kwargs, and the real
        checkpoint configs of fixtures/configs/*.config.json re-serialised by transformers 5

Everything is deterministic: torch.manual_seed per model, float32, CPU, attn_implementation="eager".
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import transformers
from safetensors import safe_open
from transformers import (
    Gemma3Config,
    Gemma3ForCausalLM,
    Gemma3ForConditionalGeneration,
    Gemma3TextConfig,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedModel,
    Qwen3Config,
    Qwen3ForCausalLM,
    SiglipVisionConfig,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "fixtures"
MAX_FOLDER_BYTES = 1_000_000

BATCH = 2
SEQ = 16
GREEDY_PROMPT_LEN = 8
GREEDY_NEW = 24
PADDED_LENGTHS = (5, 9)
PADDED_NEW = 12
# smallest allowed top-1 minus top-2 logit gap during greedy decoding (fp32 parity error is ~1e-5)
MIN_GAP = 1e-3

torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


# --------------------------------------------------------------------------------------------
# Model definitions
# --------------------------------------------------------------------------------------------


def llama() -> PreTrainedModel:
    # head_dim 16, rope_theta 1e4: inv_freq wavelengths 2*pi*10000^(i/8) = 6.3, 19.9, 62.8, ...
    # original_max_position_embeddings 32, low 1, high 4 -> high-freq cutoff 8, low-freq cutoff 32:
    # component 0 is kept, component 1 is smoothly interpolated, components 2..7 are divided by 8.
    config = LlamaConfig(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rms_norm_eps=1e-5,
        rope_parameters={
            "rope_type": "llama3",
            "rope_theta": 10000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 32,
        },
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        attn_implementation="eager",
    )
    return LlamaForCausalLM(config)


def mistral() -> PreTrainedModel:
    config = MistralConfig(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=128,
        rms_norm_eps=1e-5,
        sliding_window=6,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        attn_implementation="eager",
    )
    return MistralForCausalLM(config)


def qwen3() -> PreTrainedModel:
    config = Qwen3Config(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=24,  # != 64 / 4
        max_position_embeddings=128,
        rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        attn_implementation="eager",
    )
    return Qwen3ForCausalLM(config)


GEMMA3_LAYER_TYPES = [
    "sliding_attention",
    "sliding_attention",
    "full_attention",
    "sliding_attention",
    "sliding_attention",
    "full_attention",
]


def gemma3_text_config(**overrides: Any) -> Gemma3TextConfig:
    kwargs: dict[str, Any] = dict(
        vocab_size=256,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=6,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        query_pre_attn_scalar=24,  # != head_dim
        hidden_activation="gelu_pytorch_tanh",
        max_position_embeddings=128,
        rms_norm_eps=1e-6,
        sliding_window=6,
        layer_types=list(GEMMA3_LAYER_TYPES),
        rope_parameters={
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
        },
        final_logit_softcapping=None,
        attn_logit_softcapping=None,
        tie_word_embeddings=True,
        bos_token_id=2,
        eos_token_id=1,
        pad_token_id=0,
    )
    kwargs.update(overrides)
    return Gemma3TextConfig(**kwargs)


def gemma3() -> PreTrainedModel:
    config = gemma3_text_config(attn_implementation="eager")
    return Gemma3ForCausalLM(config)


# name -> (builder, seed, std of the embedding init; see randomize). Seeds and stds were picked so that
# greedy decoding varies and never comes near a tie (both asserted in reference()).
MODELS: dict[str, tuple[Callable[[], PreTrainedModel], int, float]] = {
    "tiny-llama": (llama, 1001, 1.0),
    "tiny-mistral": (mistral, 2002, 1.0),
    "tiny-qwen3": (qwen3, 3003, 0.1),
    "tiny-gemma3": (gemma3, 4004, 0.2),
}


# --------------------------------------------------------------------------------------------
# Randomisation and reference computation
# --------------------------------------------------------------------------------------------


def randomize(model: PreTrainedModel, embed_std: float) -> None:
    """Overwrite EVERY parameter with seeded random values (norms included).

    Linear weights ~ N(0, 1/fan_in) (variance-preserving, so logits are O(1)..O(10), not flat);
    embeddings ~ N(0, embed_std) (small when tied to the LM head: otherwise the residual stream is
    dominated by the input token's own embedding and greedy decoding just repeats it); RMSNorm weights ~ 1 + N(0, 0.3) for w-style norms and N(0, 0.3)
    for Gemma's (1 + w)-style norms (so a (1 + w) vs w mix-up is large).
    """
    gemma_style = "gemma" in model.config.model_type
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                base = 0.0 if gemma_style else 1.0
                param.copy_(base + 0.3 * torch.randn_like(param))
            elif "embed" in name or "position_embedding" in name:
                param.normal_(0.0, embed_std)
            elif param.ndim == 2:
                param.normal_(0.0, 1.0 / math.sqrt(param.shape[1]))
            elif param.ndim == 4:  # conv patch embedding of a vision tower
                param.normal_(0.0, 1.0 / math.sqrt(param[0].numel()))
            else:  # biases
                param.normal_(0.0, 0.1)


def f32_list(t: torch.Tensor) -> list[float]:
    """Exact float32 values as Python floats (json writes the shortest repr of the double)."""
    arr = t.detach().to(torch.float32).contiguous().numpy().reshape(-1)
    return [float(np.float32(x)) for x in arr]


def greedy_config(max_new_tokens: int, pad_token_id: int) -> GenerationConfig:
    return GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new_tokens,
        min_new_tokens=max_new_tokens,
        eos_token_id=None,
        pad_token_id=pad_token_id,
        bos_token_id=None,
        use_cache=True,
        output_scores=True,
        return_dict_in_generate=True,
    )


def greedy_generate(
    model: PreTrainedModel, ids: torch.Tensor, mask: torch.Tensor, new_tokens: int, pad: int
) -> tuple[list[list[int]], float]:
    """model.generate(do_sample=False); returns the new tokens per row and the smallest top-1 minus top-2
    logit gap over all steps (how far the reference is from a tie; tiny gaps make parity tests brittle)."""
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            generation_config=greedy_config(new_tokens, pad),
        )
    top2 = torch.stack(out.scores).topk(2, dim=-1).values
    margin = float((top2[..., 0] - top2[..., 1]).min())
    return out.sequences[:, ids.shape[1] :].tolist(), margin


def assert_varied(tokens: list[int], what: str) -> None:
    distinct = len(set(tokens))
    if distinct < 3:
        raise AssertionError(f"{what}: greedy output too repetitive ({distinct} distinct): {tokens}")


def reference(model: PreTrainedModel, gen: torch.Generator) -> dict[str, Any]:
    vocab = model.config.vocab_size
    pad = 0
    # ids 0..3 are reserved-looking (pad/bos/eos); sample from [4, vocab) for inputs.
    input_ids = torch.randint(4, vocab, (BATCH, SEQ), generator=gen)
    with torch.no_grad():
        logits = model(input_ids=input_ids, use_cache=False).logits
    assert logits.shape == (BATCH, SEQ, vocab), logits.shape
    assert torch.isfinite(logits).all()
    std = float(logits.std())
    assert 0.5 < std < 50, f"degenerate logits std {std}"

    # cached incremental decode must match the full forward (sanity of the reference itself)
    with torch.no_grad():
        out = model(input_ids=input_ids[:, :10], use_cache=True)
        step = model(input_ids=input_ids[:, 10:], past_key_values=out.past_key_values, use_cache=True)
    torch.testing.assert_close(step.logits, logits[:, 10:], rtol=1e-4, atol=1e-4)

    # greedy
    prompt = torch.randint(4, vocab, (1, GREEDY_PROMPT_LEN), generator=gen)
    greedy_rows, greedy_margin = greedy_generate(model, prompt, torch.ones_like(prompt), GREEDY_NEW, pad)
    greedy_new = greedy_rows[0]
    assert len(greedy_new) == GREEDY_NEW
    assert_varied(greedy_new, f"{model.config.model_type} greedy")
    assert greedy_margin > MIN_GAP, f"greedy top-2 gap {greedy_margin} is a near tie; change the seed"

    # left-padded batch
    width = max(PADDED_LENGTHS)
    padded_ids = torch.full((len(PADDED_LENGTHS), width), pad, dtype=torch.long)
    mask = torch.zeros((len(PADDED_LENGTHS), width), dtype=torch.long)
    for row, n in enumerate(PADDED_LENGTHS):
        padded_ids[row, width - n :] = torch.randint(4, vocab, (n,), generator=gen)
        mask[row, width - n :] = 1
    padded_new, padded_margin = greedy_generate(model, padded_ids, mask, PADDED_NEW, pad)
    for row in padded_new:
        assert_varied(row, f"{model.config.model_type} padded")
    assert padded_margin > MIN_GAP, f"padded top-2 gap {padded_margin} is a near tie; change the seed"
    # each padded row must equal generating that prompt alone (checks the padding reference is sane)
    for row, n in enumerate(PADDED_LENGTHS):
        alone = padded_ids[row : row + 1, width - n :]
        alone_new, _ = greedy_generate(model, alone, torch.ones_like(alone), PADDED_NEW, pad)
        if alone_new[0] != padded_new[row]:
            print(f"  note: padded row {row} differs from unpadded generation", file=sys.stderr)

    # continuation scoring
    scores = []
    for prompt_len, cont_len in ((6, 4), (3, 7)):
        ids = torch.randint(4, vocab, (1, prompt_len + cont_len), generator=gen)
        with torch.no_grad():
            lg = model(input_ids=ids, use_cache=False).logits[0]
        logp = torch.log_softmax(lg.float(), dim=-1)
        cont = ids[0, prompt_len:]
        token_lp = logp[prompt_len - 1 : prompt_len + cont_len - 1].gather(-1, cont[:, None])[:, 0]
        scores.append(
            {
                "prompt_ids": ids[0, :prompt_len].tolist(),
                "continuation_ids": cont.tolist(),
                "token_logprobs": f32_list(token_lp),
                "sum": float(np.float32(token_lp.sum())),
            }
        )

    return {
        "generator": {
            "script": "tools/parity/make_models.py",
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "dtype": "float32",
            "attn_implementation": "eager",
        },
        "input_ids": input_ids.tolist(),
        "logits": f32_list(logits),
        "logits_shape": list(logits.shape),
        "greedy": {
            "prompt_ids": prompt[0].tolist(),
            "max_new_tokens": GREEDY_NEW,
            "eos_token_id": None,
            "output_ids": greedy_new,
            "min_top2_logit_gap": greedy_margin,
        },
        "padded": {
            "input_ids": padded_ids.tolist(),
            "attention_mask": mask.tolist(),
            "pad_token_id": pad,
            "padding_side": "left",
            "position_ids_rule": "cumsum(attention_mask) - 1, pads set to 0 (transformers generate)",
            "max_new_tokens": PADDED_NEW,
            "eos_token_id": None,
            "output_ids": padded_new,
            "min_top2_logit_gap": padded_margin,
        },
        "scores": scores,
    }


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def write_model(name: str) -> None:
    builder, seed, embed_std = MODELS[name]
    torch.manual_seed(seed)
    model = builder()
    randomize(model, embed_std)
    model.eval()
    out = FIXTURES / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(out, safe_serialization=True)
    # reload from disk and make sure the saved checkpoint gives the same logits as the in-memory one
    reloaded = type(model).from_pretrained(out, dtype=torch.float32, attn_implementation="eager").eval()
    gen = torch.Generator().manual_seed(seed + 1)
    ref = reference(reloaded, gen)
    ids = torch.tensor(ref["input_ids"])
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=ids).logits, reloaded(input_ids=ids).logits, rtol=0, atol=0)
    (out / "reference.json").write_text(json.dumps(ref, separators=(",", ":")) + "\n")
    size = folder_bytes(out)
    print(f"{name}: {size} bytes, logits std {np.std(ref['logits']):.3f}, gaps {ref['greedy']['min_top2_logit_gap']:.4f}/{ref['padded']['min_top2_logit_gap']:.4f}, greedy={ref['greedy']['output_ids']}")
    assert size < MAX_FOLDER_BYTES, f"{name} is {size} bytes (limit {MAX_FOLDER_BYTES})"


# --------------------------------------------------------------------------------------------
# Multimodal Gemma 3: config + tensor names only
# --------------------------------------------------------------------------------------------


def write_gemma3_mm() -> None:
    """Tiny Gemma3ForConditionalGeneration: config.json, model.safetensors (it is < 1 MB), keys.json
    (tensor names + shapes as written on disk, and the in-memory parameter names they map to) and
    reference.json with text-only logits (no image tokens), so a text-only loader can be checked."""
    torch.manual_seed(5005)
    text = gemma3_text_config(vocab_size=260)
    vision = SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=28,
        patch_size=14,
        num_channels=3,
        vision_use_head=False,
    )
    config = Gemma3Config(
        text_config=text,
        vision_config=vision,
        mm_tokens_per_image=4,
        boi_token_index=256,
        eoi_token_index=257,
        image_token_index=258,
        attn_implementation="eager",
    )
    model = Gemma3ForConditionalGeneration(config)
    randomize(model, 0.2)
    model.eval()
    out = FIXTURES / "tiny-gemma3-mm"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(out, safe_serialization=True)
    keys: dict[str, dict[str, Any]] = {}
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        metadata = f.metadata()
        for key in sorted(f.keys()):
            sl = f.get_slice(key)
            keys[key] = {"dtype": sl.get_dtype(), "shape": list(sl.get_shape())}
    (out / "keys.json").write_text(
        json.dumps(
            {
                "generator": "tools/parity/make_models.py (write_gemma3_mm)",
                "transformers": transformers.__version__,
                "model_class": "Gemma3ForConditionalGeneration",
                "note": "names as written to model.safetensors by save_pretrained; in memory transformers 5 "
                "names them model.language_model.* / model.vision_tower.* / model.multi_modal_projector.* "
                "(see in_memory_parameter_names) and renames on save/load",
                "safetensors_metadata": metadata,
                "tensors": keys,
                "in_memory_parameter_names": [n for n, _ in model.named_parameters()],
            },
            indent=2,
        )
        + "\n"
    )
    reloaded = Gemma3ForConditionalGeneration.from_pretrained(
        out, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    gen = torch.Generator().manual_seed(5006)
    input_ids = torch.randint(4, 256, (BATCH, SEQ), generator=gen)
    with torch.no_grad():
        logits = reloaded(input_ids=input_ids, use_cache=False).logits
        # the text-only path of the multimodal model must equal a Gemma3ForCausalLM built from text_config
        text_only = Gemma3ForCausalLM(reloaded.config.text_config).eval()
        text_only.model.load_state_dict(reloaded.model.language_model.state_dict())
        text_only.lm_head.weight = text_only.model.embed_tokens.weight
        torch.testing.assert_close(text_only(input_ids=input_ids).logits, logits, rtol=0, atol=0)
    ref = {
        "generator": {
            "script": "tools/parity/make_models.py",
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "dtype": "float32",
            "attn_implementation": "eager",
        },
        "input_ids": input_ids.tolist(),
        "logits": f32_list(logits),
        "logits_shape": list(logits.shape),
    }
    (out / "reference.json").write_text(json.dumps(ref, separators=(",", ":")) + "\n")
    size = folder_bytes(out)
    print(f"tiny-gemma3-mm: {len(keys)} tensors, {size} bytes")
    assert size < MAX_FOLDER_BYTES, f"tiny-gemma3-mm is {size} bytes (limit {MAX_FOLDER_BYTES})"


# --------------------------------------------------------------------------------------------
# v4-style rope keys: can transformers 5 still write them?
# --------------------------------------------------------------------------------------------


def write_v5_from_v4_kwargs() -> None:
    """Hand transformers 5 the v4 kwargs (rope_theta + rope_scaling) and record what it writes."""
    out = FIXTURES / "configs" / "v5-written"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    llama_v4 = LlamaConfig(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=131072,
        rope_theta=500000.0,
        rope_scaling={
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
    )
    gemma_v4 = Gemma3TextConfig(
        num_hidden_layers=6,
        rope_theta=1000000.0,
        rope_local_base_freq=10000.0,
        rope_scaling={"rope_type": "linear", "factor": 8.0},
        sliding_window_pattern=6,
    )
    summary: dict[str, Any] = {}
    for fname, cfg in (("llama-from-v4-kwargs", llama_v4), ("gemma3-text-from-v4-kwargs", gemma_v4)):
        folder = out / fname
        cfg.save_pretrained(folder)
        written = json.loads((folder / "config.json").read_text())
        summary[fname] = {
            "has_rope_theta": "rope_theta" in written,
            "has_rope_scaling": "rope_scaling" in written,
            "rope_parameters": written.get("rope_parameters"),
        }
    # the real (v4-era) checkpoint configs in fixtures/configs/, re-serialised by transformers 5
    for real in sorted((FIXTURES / "configs").glob("*.config.json")):
        data = json.loads(real.read_text())
        cfg = transformers.AutoConfig.for_model(data.pop("model_type"), **data)
        cfg.to_json_file(str(out / real.name))  # use_diff=True, as save_pretrained writes
        summary[real.name] = {"rope_parameters": cfg.rope_parameters}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("v4 kwargs ->", json.dumps(summary))


def main(argv: list[str]) -> None:
    targets = argv or [*MODELS, "tiny-gemma3-mm", "v5-written"]
    for name in targets:
        if name in MODELS:
            write_model(name)
        elif name == "tiny-gemma3-mm":
            write_gemma3_mm()
        elif name == "v5-written":
            write_v5_from_v4_kwargs()
        else:
            raise SystemExit(f"unknown target {name!r}; choose from {[*MODELS, 'tiny-gemma3-mm', 'v5-written']}")


if __name__ == "__main__":
    main(sys.argv[1:])
