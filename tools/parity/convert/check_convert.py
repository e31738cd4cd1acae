"""Checks `lora convert` output with transformers: the folder it writes must load in PyTorch and
behave like the model it came from.

    pnpm lora convert SmolLM2-135M-Instruct --out /tmp/smollm2-hf-lora
    pnpm lora convert stories260K --out /tmp/stories260K-hf-lora
    /opt/parity/bin/python tools/parity/convert/check_convert.py \
        --gguf "$LORA_ASSETS_DIR/models/SmolLM2-135M-Instruct" --gguf-out /tmp/smollm2-hf-lora \
        --llama2c-out /tmp/stories260K-hf-lora

SmolLM2 (GGUF): transformers' own GGUF loading of the same file (`from_pretrained(dir,
gguf_file=...)`) is the reference: logits on a few prompts (max abs difference), greedy text for
"Once upon a time, there was", token ids of a string corpus and the rendered chat template must
agree. stories260K (llama2.c): transformers' greedy generation from BOS on the converted folder must
print run.c's own greedy text (fixtures/llama2c/stories260K-greedy-200.txt, committed).
Exits 1 on any mismatch. Needs torch, transformers, gguf (tools/parity/requirements.txt).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[3]
PROMPTS = ["Once upon a time, there was", "The capital of France is", "def fib(n):\n    return"]
STRINGS = PROMPTS + [
    "",
    " leading space",
    "tabs\tand\nnewlines\n\n",
    "emoji 🚗🔥 and CJK 汽车 ünïcödé",
    "<|im_start|>user\nHi<|im_end|>",
    "x = [1, 2, 3]  # comment",
    "12345 67.89 1e-5",
]
CHAT = [
    {"role": "system", "content": "You are CarBot."},
    {"role": "user", "content": "Open the sunroof"},
    {"role": "assistant", "content": "<ACTION>{}</ACTION>"},
]


def fail(message: str) -> None:
    print(f"MISMATCH: {message}")
    global failures
    failures += 1


failures = 0


def check_gguf(gguf_dir: Path, out: Path) -> None:
    gguf_file = next(gguf_dir.glob("*.gguf")).name
    ref_tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    ref = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    worst = 0.0
    for prompt in PROMPTS:
        ids = ref_tok(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            diff = (ref(ids).logits - model(ids).logits).abs().max().item()
        worst = max(worst, diff)
    print(f"SmolLM2 logits max abs diff vs transformers' GGUF load: {worst:.3e}")
    if worst > 1e-4:
        fail(f"logits differ by {worst}")
    mismatched = [s for s in STRINGS if tok(s).input_ids != ref_tok(s).input_ids]
    print(f"SmolLM2 token ids: {len(STRINGS) - len(mismatched)}/{len(STRINGS)} strings identical")
    if mismatched:
        fail(f"token ids differ on {mismatched!r}")
    for generation_prompt in (False, True):
        a = tok.apply_chat_template(CHAT[:2] if generation_prompt else CHAT, tokenize=False, add_generation_prompt=generation_prompt)
        b = ref_tok.apply_chat_template(CHAT[:2] if generation_prompt else CHAT, tokenize=False, add_generation_prompt=generation_prompt)
        if a != b:
            fail(f"chat template renders differ:\n{a!r}\n{b!r}")
    print("SmolLM2 chat template: identical renders")
    ids = tok(PROMPTS[0], return_tensors="pt").input_ids
    text = tok.decode(model.generate(ids, max_new_tokens=32, do_sample=False)[0][ids.shape[1]:])
    ref_text = ref_tok.decode(ref.generate(ids, max_new_tokens=32, do_sample=False)[0][ids.shape[1]:])
    print(f"SmolLM2 greedy: {text!r}")
    if text != ref_text:
        fail(f"greedy text differs: {ref_text!r}")


def check_llama2c(out: Path) -> None:
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    expected = (ROOT / "fixtures/llama2c/stories260K-greedy-200.txt").read_text()
    ids = torch.tensor([[tok.bos_token_id]])
    generated = model.generate(ids, max_new_tokens=199, do_sample=False, eos_token_id=None)[0][1:]
    text = tok.decode(generated, skip_special_tokens=True)
    # run.c prints pieces as they come (the first piece's leading space stripped after BOS).
    n = min(len(text), len(expected.strip()))
    same = text.strip()[:n] == expected.strip()[:n]
    print(f"stories260K greedy (transformers on the converted folder): {text[:80]!r}...")
    print(f"stories260K vs run.c: {'identical' if same else 'DIFFERENT'} over {n} characters")
    if not same:
        fail("stories260K greedy text differs from run.c")
    ids = tok("Once upon a time").input_ids
    if ids[0] != tok.bos_token_id:
        fail(f"the converted Llama tokenizer should add BOS like llama2.c: {ids}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", type=Path, help="folder holding the source .gguf")
    parser.add_argument("--gguf-out", type=Path, help="lora convert output of that GGUF")
    parser.add_argument("--llama2c-out", type=Path, help="lora convert output of stories260K")
    args = parser.parse_args()
    if args.gguf and args.gguf_out:
        check_gguf(args.gguf, args.gguf_out)
    if args.llama2c_out:
        check_llama2c(args.llama2c_out)
    print("OK" if failures == 0 else f"{failures} mismatch(es)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
