"""Golden fixtures for the sequence-length scaled RoPE types `dynamic`, `yarn` and `longrope`.

Regenerate (from the repository root, with the parity venv described in tools/parity/README.md):

    /opt/parity/bin/python tools/parity/make_rope.py

Writes, under fixtures/rope/:
    <case>/config.json, model.safetensors   tiny random checkpoint (save_pretrained, fp32, so the
                                            config carries transformers 5's `rope_parameters`)
    <case>/reference.json                   logits of a long input (longer than the pretraining
                                            length, so the scaling matters) and of a short one,
                                            a greedy generation that crosses that length, and
                                            transformers' inv_freq / attention_scaling
    hub-configs.json                        real checkpoint config.json shapes (v4 `rope_scaling`)
                                            with transformers' inv_freq and attention scaling at a
                                            short and a long sequence length

Everything is deterministic: fixed seeds, float32, CPU, attn_implementation="eager".
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    Phi3Config,
    PreTrainedModel,
    Qwen3Config,
    Qwen3ForCausalLM,
)
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_models import FIXTURES, MIN_GAP, f32_list, folder_bytes, greedy_generate, randomize  # noqa: E402

OUT = FIXTURES / "rope"
# Pretraining length of every tiny case: inputs of LONG tokens exceed it, SHORT stay within.
ORIGINAL = 16
LONG = 40
SHORT = 12
# greedy generation: a prompt within the original length whose continuation crosses it
PROMPT = 10
NEW = 14
MAX_CASE_BYTES = 150_000

torch.set_num_threads(2)

TINY: dict[str, Any] = dict(
    vocab_size=48,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=16,
    rms_norm_eps=1e-5,
    tie_word_embeddings=True,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
    attn_implementation="eager",
)


def llama_dynamic() -> PreTrainedModel:
    # dynamic NTK compares against max_position_embeddings itself
    return LlamaForCausalLM(
        LlamaConfig(
            **TINY,
            max_position_embeddings=ORIGINAL,
            rope_parameters={"rope_type": "dynamic", "factor": 4.0, "rope_theta": 10000.0},
        )
    )


def llama_yarn() -> PreTrainedModel:
    return LlamaForCausalLM(
        LlamaConfig(
            **TINY,
            max_position_embeddings=4 * ORIGINAL,
            rope_parameters={
                "rope_type": "yarn",
                "factor": 4.0,
                "original_max_position_embeddings": ORIGINAL,
                "rope_theta": 10000.0,
            },
        )
    )


def qwen3_yarn_mscale() -> PreTrainedModel:
    # every optional yarn field: beta_fast/beta_slow, no truncation, DeepSeek-style mscale ratio
    return Qwen3ForCausalLM(
        Qwen3Config(
            **TINY,
            max_position_embeddings=8 * ORIGINAL,
            rope_parameters={
                "rope_type": "yarn",
                "factor": 8.0,
                "original_max_position_embeddings": ORIGINAL,
                "rope_theta": 1000.0,
                "beta_fast": 8.0,
                "beta_slow": 2.0,
                "truncate": False,
                "mscale": 1.0,
                "mscale_all_dim": 0.5,
            },
        )
    )


def llama_longrope() -> PreTrainedModel:
    # Phi-3 style: no `factor`, so it is max_position_embeddings / original (4) and the attention
    # factor is sqrt(1 + ln 4 / ln 16)
    gen = torch.Generator().manual_seed(77)
    short = (1.0 + 0.5 * torch.rand(8, generator=gen)).tolist()
    long = (1.0 + torch.arange(8) * 2.0 + torch.rand(8, generator=gen)).tolist()
    return LlamaForCausalLM(
        LlamaConfig(
            **TINY,
            max_position_embeddings=4 * ORIGINAL,
            rope_parameters={
                "rope_type": "longrope",
                "short_factor": short,
                "long_factor": long,
                "original_max_position_embeddings": ORIGINAL,
                "rope_theta": 10000.0,
            },
        )
    )


CASES: dict[str, tuple[Callable[[], PreTrainedModel], int]] = {
    "llama-dynamic": (llama_dynamic, 5008),
    "llama-yarn": (llama_yarn, 6006),
    "qwen3-yarn-mscale": (qwen3_yarn_mscale, 7007),
    "llama-longrope": (llama_longrope, 8008),
}


def rope_at(config: Any, seq_len: int | None) -> tuple[list[float], float]:
    """inv_freq and attention scaling transformers uses for a forward whose last position is seq_len - 1."""
    rope_type = config.rope_parameters["rope_type"]
    # a forward passes max(position_ids) + 1 as a tensor: dynamic NTK then computes its base in float32
    length = None if seq_len is None else torch.tensor(seq_len)
    inv, scaling = ROPE_INIT_FUNCTIONS[rope_type](config, None, seq_len=length)
    return f32_list(inv), float(scaling)


def write_case(name: str) -> None:
    builder, seed = CASES[name]
    torch.manual_seed(seed)
    model = builder()
    randomize(model, 0.1)
    model.eval()
    out = OUT / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(out, safe_serialization=True)
    (out / "generation_config.json").unlink(missing_ok=True)
    model = type(model).from_pretrained(out, dtype=torch.float32, attn_implementation="eager").eval()
    gen = torch.Generator().manual_seed(seed + 1)
    vocab = model.config.vocab_size
    ids = torch.randint(3, vocab, (1, LONG), generator=gen)
    with torch.no_grad():
        long_logits = model(input_ids=ids, use_cache=False).logits
        short_logits = model(input_ids=ids[:, :SHORT], use_cache=False).logits
    # the scaling must matter: the first SHORT positions differ between the two forwards for the
    # sequence-length dependent types, and the long logits differ from an unscaled model for all
    std = float(long_logits.std())
    assert 0.5 < std < 50, f"{name}: degenerate logits std {std}"
    prompt = torch.randint(3, vocab, (1, PROMPT), generator=gen)
    rows, margin = greedy_generate(model, prompt, torch.ones_like(prompt), NEW, 0)
    assert margin > MIN_GAP, f"{name}: greedy top-2 gap {margin} is a near tie; change the seed"
    assert len(set(rows[0])) >= 3, f"{name}: greedy output too repetitive: {rows[0]}"
    # The scaling must matter: the same weights with unscaled rope give other logits and another
    # greedy continuation (so the TS test fails if a type is computed as `default`).
    plain_config = copy.deepcopy(model.config)
    plain_config.rope_parameters = {"rope_type": "default", "rope_theta": model.config.rope_parameters["rope_theta"]}
    plain = type(model)(plain_config).eval()
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        plain_logits = plain(input_ids=ids, use_cache=False).logits
    diff = float((plain_logits - long_logits).abs().max())
    assert diff > 0.05, f"{name}: rope scaling changes the long logits by only {diff}"
    plain_rows, _ = greedy_generate(plain, prompt, torch.ones_like(prompt), NEW, 0)
    assert plain_rows[0] != rows[0], f"{name}: greedy continuation does not depend on the rope scaling; change the seed"
    long_inv, long_scaling = rope_at(model.config, LONG)
    short_inv, short_scaling = rope_at(model.config, None)
    ref = {
        "input_ids": ids[0].tolist(),
        "logits": f32_list(long_logits),
        "short_length": SHORT,
        "short_logits": f32_list(short_logits),
        "greedy": {"prompt_ids": prompt[0].tolist(), "max_new_tokens": NEW, "output_ids": rows[0], "min_top2_logit_gap": margin},
        "rope": {
            "long": {"seq_len": LONG, "inv_freq": long_inv, "attention_scaling": long_scaling},
            "short": {"inv_freq": short_inv, "attention_scaling": short_scaling},
        },
    }
    (out / "reference.json").write_text(json.dumps(ref, separators=(",", ":")) + "\n")
    size = folder_bytes(out)
    print(f"{name}: {size} bytes, logits std {std:.3f}, gap {margin:.4f}, greedy={rows[0]}")
    assert size < MAX_CASE_BYTES, f"{name} is {size} bytes (limit {MAX_CASE_BYTES})"


# --------------------------------------------------------------------------------------------
# Real checkpoint config shapes (v4-era `rope_scaling`), see fixtures/rope/SOURCES.md
# --------------------------------------------------------------------------------------------

# fixtures/configs/Qwen3-4B.config.json with the block Qwen's model cards (Qwen3, Qwen2.5-*-Instruct)
# tell users to add for long context: YaRN over the 32768-token pretraining length.
QWEN3_YARN_BLOCK = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}

# A Phi-3 128k checkpoint's config.json (Phi-3-vision-128k-instruct's text model, as embedded in
# diffusers' OmniGen pipeline test), with `"type": "longrope"` as the Hub's Phi-3 128k configs now
# say: transformers 5 rejects the original "su" (it renames "su" to "longrope" only after the step
# that copies `original_max_position_embeddings` into the rope parameters). That length sits at the
# top level and there is no `factor`: Phi3Config uses factor 131072 / 4096.
PHI3_LONG = [
    1.0299999713897705, 1.0499999523162842, 1.0499999523162842, 1.0799999237060547, 1.2299998998641968,
    1.2299998998641968, 1.2999999523162842, 1.4499999284744263, 1.5999999046325684, 1.6499998569488525,
    1.8999998569488525, 2.859999895095825, 3.68999981880188, 5.419999599456787, 5.489999771118164,
    5.489999771118164, 9.09000015258789, 11.579999923706055, 15.65999984741211, 15.769999504089355,
    15.789999961853027, 18.360000610351562, 21.989999771118164, 23.079999923706055, 30.009998321533203,
    32.35000228881836, 32.590003967285156, 35.56000518798828, 39.95000457763672, 53.840003967285156,
    56.20000457763672, 57.95000457763672, 59.29000473022461, 59.77000427246094, 59.920005798339844,
    61.190006256103516, 61.96000671386719, 62.50000762939453, 63.3700065612793, 63.48000717163086,
    63.48000717163086, 63.66000747680664, 63.850006103515625, 64.08000946044922, 64.760009765625,
    64.80001068115234, 64.81001281738281, 64.81001281738281,
]
PHI3_SHORT = (
    [1.05, 1.05, 1.05, 1.1, 1.1, 1.1, 1.2500000000000002, 1.2500000000000002, 1.4000000000000004]
    + [1.4500000000000004, 1.5500000000000005, 1.8500000000000008, 1.9000000000000008]
    + [2.000000000000001] * 19
    + [2.1000000000000005, 2.1000000000000005, 2.2, 2.3499999999999996, 2.3499999999999996]
    + [2.3499999999999996, 2.3499999999999996, 2.3999999999999995, 2.3999999999999995]
    + [2.6499999999999986, 2.6999999999999984, 2.8999999999999977, 2.9499999999999975]
    + [3.049999999999997, 3.049999999999997, 3.049999999999997]
)
PHI3_128K = {
    "_name_or_path": "Phi-3-vision-128k-instruct",
    "architectures": ["Phi3ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 3072,
    "initializer_range": 0.02,
    "intermediate_size": 8192,
    "max_position_embeddings": 131072,
    "model_type": "phi3",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "original_max_position_embeddings": 4096,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {"long_factor": PHI3_LONG, "short_factor": PHI3_SHORT, "type": "longrope"},
    "rope_theta": 10000.0,
    "sliding_window": 131072,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.38.1",
    "use_cache": True,
    "vocab_size": 32064,
}

# meta-llama/Llama-2-7b-hf's config.json (from memory of the Hub file) with the dynamic NTK block
# of transformers' documentation (`{"type": "dynamic", "factor": 2.0}`).
LLAMA2_DYNAMIC = {
    "architectures": ["LlamaForCausalLM"],
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 11008,
    "max_position_embeddings": 4096,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {"type": "dynamic", "factor": 2.0},
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "transformers_version": "4.31.0.dev0",
    "use_cache": True,
    "vocab_size": 32000,
}


def hub_entry(name: str, source: str, config: dict[str, Any], cls: type, long_len: int) -> dict[str, Any]:
    hf = cls.from_dict(json.loads(json.dumps(config)))
    short_inv, short_scaling = rope_at(hf, None)
    long_inv, long_scaling = rope_at(hf, long_len)
    return {
        "name": name,
        "source": source,
        "config": config,
        "rope_parameters": {k: v for k, v in hf.rope_parameters.items()},
        "short": {"inv_freq": short_inv, "attention_scaling": short_scaling},
        "long": {"seq_len": long_len, "inv_freq": long_inv, "attention_scaling": long_scaling},
    }


def write_hub_configs() -> None:
    qwen3 = json.loads((FIXTURES / "configs" / "Qwen3-4B.config.json").read_text())
    qwen3_yarn = {**qwen3, "rope_scaling": QWEN3_YARN_BLOCK}
    entries = [
        hub_entry("qwen3-4b-yarn", "fixtures/configs/Qwen3-4B.config.json + Qwen's YaRN block", qwen3_yarn, Qwen3Config, 131072),
        hub_entry("phi3-128k-longrope", "Phi-3-vision-128k-instruct config.json (diffusers OmniGen test)", PHI3_128K, Phi3Config, 8192),
        hub_entry("llama2-7b-dynamic", "meta-llama/Llama-2-7b-hf config.json + dynamic block", LLAMA2_DYNAMIC, LlamaConfig, 8192),
    ]
    # Phi-3's decoder (fused qkv_proj / gate_up_proj) is not one @lora loads; its rope block is, on a
    # llama config: the same parameters in transformers 5's form (what Phi3Config standardises to).
    phi3 = Phi3Config.from_dict(json.loads(json.dumps(PHI3_128K)))
    as_llama = {
        **{k: v for k, v in PHI3_128K.items() if k not in ("rope_scaling", "original_max_position_embeddings", "sliding_window")},
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "rope_parameters": {k: v for k, v in phi3.rope_parameters.items() if k != "partial_rotary_factor"},
    }
    entry = hub_entry("phi3-128k-longrope-as-llama", "phi3-128k-longrope's rope_parameters on a llama config", as_llama, LlamaConfig, 8192)
    assert entry["long"] == entries[1]["long"] and entry["short"] == entries[1]["short"], "llama and phi3 rope differ"
    entries.append(entry)
    (OUT / "hub-configs.json").write_text(json.dumps(entries, separators=(",", ":")) + "\n")
    print(f"hub-configs.json: {len(entries)} configs")


def main(argv: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in argv or [*CASES, "hub-configs"]:
        if name == "hub-configs":
            write_hub_configs()
        else:
            write_case(name)


if __name__ == "__main__":
    main(sys.argv[1:])
