"""Round trip of `lora export-recipe --to trl`: export a tiny recipe on stories260K (a llama2.c
base, so the export also converts it to a Hugging Face folder), train the exported TRL script for a
few steps on CPU, then load the PEFT adapter it wrote in @lora and compare the logits of
base + adapter with PEFT's in PyTorch.

    pnpm build
    LORA_ASSETS_DIR=/path/to/assets /opt/parity/bin/python tools/export/check_trl_roundtrip.py

Needs trl (tools/export/requirements.txt) in the Python environment. Also checks that TRL's
assistant mask trains as many tokens per record as @lora's. Exits non-zero when the masks differ,
the training fails, the loss does not fall, the adapter leaves the logits unchanged, or @lora's logits
differ from PEFT's by more than --atol.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

REPO = Path(__file__).resolve().parents[2]
RECIPE = """name: export-roundtrip
model: stories260K
adapter:
  r: 4
  loraAlpha: 8
  targetModules: all-linear
data:
  train: train.jsonl
  validation: validation.jsonl
  format: messages
  mask: assistant
  chatTemplate: stories
  addBos: true
  maxLength: 64
  batchSize: 4
  mode: skip
training:
  maxSteps: 5
  learningRate: 0.01
  lrScheduler: cosine
  warmup: 0.2
  seed: 1
"""


def write_data(folder: Path) -> None:
    rng = random.Random(0)
    with open(folder / "train.jsonl", "w") as f:
        for _ in range(40):
            n = rng.randint(1, 9)
            turns = [{"role": "user", "content": f"Once there was a cat number {n}."},
                     {"role": "assistant", "content": f"The cat {n} was happy."}]
            f.write(json.dumps({"messages": turns}) + "\n")
        f.write('{"messages": "not a conversation"}\n')  # counted and skipped (mode: skip)
    with open(folder / "validation.jsonl", "w") as f:
        for i in range(8):
            turns = [{"role": "user", "content": f"A dog {i}."}, {"role": "assistant", "content": f"The dog {i} ran."}]
            f.write(json.dumps({"messages": turns}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--atol", type=float, default=1e-4, help="largest |logit difference| @lora vs PEFT")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    if not os.environ.get("LORA_ASSETS_DIR"):
        sys.exit("set LORA_ASSETS_DIR to the folder holding models/stories260K")
    work = args.keep or Path(tempfile.mkdtemp(prefix="lora-export-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "recipe.yaml").write_text(RECIPE)
    write_data(work)
    export = work / "export"
    cli = [str(REPO / "packages/cli/dist/bin.js")]
    subprocess.run(["node", *cli, "export-recipe", str(work / "recipe.yaml"), "--to", "trl", "--out", str(export), "--overwrite"],
                   check=True)
    # The trained tokens: TRL's assistant mask (the exported template's generation blocks) against
    # @lora's per-record counts (`lora data inspect`, the same stories template and BOS).
    inspect = subprocess.run(["node", *cli, "data", "inspect", str(export / "data/train.jsonl"), "--tokenizer", str(export / "model"),
                              "--stories-template", "--json"], check=True, capture_output=True, text=True)
    ours_counts = [(r["tokens"], r["trainedTokens"]) for r in map(json.loads, inspect.stdout.splitlines()) if "line" in r]
    tokenizer = AutoTokenizer.from_pretrained(export / "model")
    template = next(line for line in (export / "train_trl.py").read_text().splitlines() if line.startswith("CHAT_TEMPLATE = "))
    tokenizer.chat_template = json.loads(template[len("CHAT_TEMPLATE = "):])
    trl_counts = []
    for line in (export / "data/train.jsonl").read_text().splitlines():
        out = tokenizer.apply_chat_template(json.loads(line)["messages"], tokenize=True, return_dict=True,
                                            return_assistant_tokens_mask=True)
        trl_counts.append((len(out["input_ids"]), sum(out["assistant_masks"])))
    masks_equal = ours_counts == trl_counts
    print(f"tokens / trained tokens per record equal in @lora and TRL: {masks_equal} ({len(trl_counts)} records, "
          f"first {trl_counts[0]})")

    adapter = work / "adapter"
    run = subprocess.run([sys.executable, str(export / "train_trl.py"), "--output-dir", str(adapter)],
                         check=True, capture_output=True, text=True)
    losses = json.loads(run.stdout.strip().splitlines()[-1])["losses"]
    print("TRL losses:", " ".join(f"{x:.4f}" for x in losses))

    ids = [1, 403, 261, 348, 460, 30, 120, 262, 407, 13]  # BOS and nine ids of stories260K's 512
    subprocess.run(["node", str(REPO / "tools/export/lora_logits.mjs"), str(export / "model"), str(adapter), json.dumps(ids),
                    str(work / "lora_logits.json")], check=True)
    ours = json.loads((work / "lora_logits.json").read_text())
    shape = ours["shape"]
    lora_base = torch.tensor(ours["base"]).reshape(shape)
    lora_adapted = torch.tensor(ours["adapter"]).reshape(shape)

    base = AutoModelForCausalLM.from_pretrained(export / "model", dtype=torch.float32).eval()
    with torch.no_grad():
        ref_base = base(torch.tensor([ids])).logits
        ref_adapted = PeftModel.from_pretrained(base, adapter).eval()(torch.tensor([ids])).logits
    moved = (ref_adapted - ref_base).abs().max().item()
    diff_base = (lora_base - ref_base).abs().max().item()
    diff = (lora_adapted - ref_adapted).abs().max().item()
    print(f"adapter moves PEFT's logits by up to {moved:.4f}")
    print(f"max |@lora - transformers| base logits: {diff_base:.3g}")
    print(f"max |@lora - PEFT| base+adapter logits: {diff:.3g}")
    ok = masks_equal and losses[-1] < losses[0] and moved > 1e-3 and diff <= args.atol and diff_base <= args.atol
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
