"""Fixtures for the GGUF tokenizer converter of @lora/data, from transformers' GGUF tokenizer loading.

Regenerate (from the repo root; needs pip `gguf` besides the pinned stack, ~1 min on 2 cores):
    LORA_ASSETS_DIR=/path/to/shared /opt/parity/bin/python tools/parity/data/make_gguf_tokenizer_fixtures.py

Reference: AutoTokenizer.from_pretrained(dir, gguf_file=...) (transformers' integrations/gguf), which builds the
tokenizer from the `tokenizer.ggml.*` metadata. Writes packages/data/fixtures/gguf/:

  smollm2.json      SmolLM2-135M-Instruct.Q4_1.gguf from LORA_ASSETS_DIR (byte-level BPE, `tokenizer.ggml.pre`
                    "smollm", ChatML template).
  stories260k.json  a GGUF written here with gguf-py's GGUFWriter (in a temporary folder, never committed) carrying
                    the SentencePiece vocabulary of stories260K's tok512.model (`tokenizer.ggml.model` = "llama":
                    tokens, scores, token types as llama.cpp's converter writes them; no merges, so transformers
                    derives them from the scores).
  synthetic.json    two tiny hand-made GGUF tokenizers (whole metadata stored) that exercise the corner cases:
                    a control token outside the byte alphabet, a user-defined token, a split regex chosen by
                    `tokenizer.ggml.pre`, add_bos_token, special-token defaults missing from the vocabulary.

Each file holds:
  backend          transformers' backend tokenizer.json (`backend_tokenizer.to_str()`) with model.vocab and
                   model.merges replaced by sha256 digests (`vocabSha256` of the JSON list of [token, id] sorted by
                   id then token, `mergesSha256` of the JSON list of [left, right]; JSON without spaces, non-ASCII
                   kept) -- except synthetic.json, which keeps them whole
  config           bos/eos/unk/pad tokens, add_bos_token/add_eos_token as the tokenizer resolves them, and the
                   sha256 of its chat_template (UTF-8)
  len              len(tokenizer)
  texts            the corpus, generated deterministically here (edge cases, ChatML specials inside text, made-up
                   GSM8K-style word problems, code, seeded random mixes of scripts, emoji, digits and whitespace
                   runs); stored, so the TypeScript side never regenerates it. Nothing from LORA_ASSETS_DIR is
                   stored but ids and digests.
  ids              tokenizer(text)["input_ids"]                   (add_special_tokens=True, the default)
  idsPlain         tokenizer(text, add_special_tokens=False)["input_ids"]
  decoded          [decode(ids, skip_special_tokens=False), decode(ids, skip_special_tokens=True)] per text
  chats            (smollm2 only) conversations, with and without add_generation_prompt: the sha256 (UTF-8) of
                   apply_chat_template(tokenize=False) and the ids of that rendering (add_special_tokens=False);
                   digests rather than text, since the renders contain the model's template text
  byteRuns         (synthetic sentencepiece) decode(ids, skip_special_tokens=False) of byte-fallback runs that
                   are not valid UTF-8 or start with a BOM
  metadataSha256   (stories260k) digest of the JSON [tokens, token types] written into the GGUF, so the test can
                   check it rebuilt the same metadata from tok512.model
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import random
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import CHATS, EDGE_CASES, FIXTURES  # noqa: E402

warnings.filterwarnings("ignore")
import gguf  # noqa: E402
import numpy as np  # noqa: E402
import sentencepiece  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402
from transformers.convert_slow_tokenizer import bytes_to_unicode  # noqa: E402

OUT = FIXTURES / "gguf"
SMOLLM2 = Path("models") / "SmolLM2-135M-Instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf"
TOK512 = Path("models") / "stories260K" / "tok512.model"


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sha256(value) -> str:
    return hashlib.sha256(compact(value).encode("utf-8")).hexdigest()


def assets() -> Path:
    root = os.environ.get("LORA_ASSETS_DIR")
    if not root:
        raise SystemExit("set LORA_ASSETS_DIR (the folder holding models/SmolLM2-135M-Instruct and models/stories260K)")
    return Path(root)


# ---------------------------------------------------------------------------------------------- corpus

EXTRA_CASES = [
    "<|im_start|>",
    "<|im_end|>",
    "<|im_start|><|im_end|>",
    "text<|im_start|>assistant\nreply<|im_end|>\n",
    " <|im_start|> spaced <|im_end|> ",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>after",
    "before<|endoftext|>",
    "<repo_name>lora<file_sep>src/index.ts",
    "<s>Once upon a time</s>",
    "x </s> y <s> z <unk>",
    "<|im_end |> <| im_end|> <|IM_END|>",
    "Once upon a time, there was",
    "The capital of France is",
    "  two leading spaces",
    "\n\nleading newlines",
    "trailing newlines\n\n",
    "\r\n\r\n",
    "a\n\n\n\nb",
    "tabs\t\t\tand spaces    \t",
    "\u00a0non-breaking\u00a0space",
    "ideographic\u3000\u3000space",
    "123 4567 89012 345678",
    "1+1=2, 2*3=6, 10/4=2.5, 2^10=1024",
    "version 1.2.3-beta.4+build.567",
    "IPv4 192.168.0.1, port :8080",
    "function add(a, b) {\n  return a + b;\n}\n",
    "for (let i = 0; i < 10; i++) {\n\tconsole.log(`i=${i}`);\n}",
    "import numpy as np\n\n\ndef main():\n    x = np.zeros((3, 4))\n    print(x.shape)\n",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "<div class=\"a\">Hello &amp; welcome</div>",
    "$ echo 'hi' | grep -E \"h.?\" > out.txt && cat out.txt",
    "🙂🙃😉 🚀🌍 🤖🦀🐍",
    "👩🏽‍💻 and 🏳️‍🌈 and 1️⃣ keycap",
    "中文：机器学习是人工智能的一个分支。",
    "これは日本語の文です。カタカナ　ひらがな",
    "混合 mixed テキスト text 텍스트 123",
    "Ünïcödé ñ ß Ø æ œ ð þ",
    "ⅠⅡⅢ ①②③ ¹²³ ½ ¾",
    "a" * 64,
    " " * 17,
    "\n" * 9,
    "-" * 40,
    "=" * 33 + ">",
]

# Pieces of the seeded random strings: letters of several scripts, emoji, digits, punctuation, whitespace
# runs and special tokens, so each string crosses pre-tokenizer boundaries in many ways.
PIECES = {
    "word": ["the", "The", "story", "once", "upon", "time", "little", "dog", "tokenizer", "LoRA", "fine-tune",
             "don't", "it's", "we'll", "naïve", "café", "Straße", "über", "niño"],
    "cjk": ["你好", "世界", "机器", "学习", "日本", "東京", "ひらがな", "カタカナ", "한국", "서울"],
    "other": ["Привет", "мир", "Ελλάδα", "مرحبا", "שלום", "नमस्ते", "தமிழ்", "ไทย"],
    "emoji": ["😀", "🎉", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "🤖", "🦙", "✨"],
    "digits": ["0", "7", "42", "123", "2024", "31415926", "1,000", "3.14", "-5", "1e10", "0xFF"],
    "punct": [".", ",", "!", "?", ";", ":", "...", "—", "(", ")", "[", "]", "{", "}", "\"", "'", "`", "#", "@",
              "$", "%", "&", "*", "+", "=", "<", ">", "/", "\\", "|", "~", "^", "_"],
    "space": [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\u00a0", "\u3000", "\u200b"],
    "special": ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>"],
    "code": ["def ", "return ", "=>", "!=", "==", "&&", "||", "::", "->", "//", "/*", "*/", "    ", "\t\t"],
}
WEIGHTS = {"word": 9, "cjk": 3, "other": 2, "emoji": 2, "digits": 3, "punct": 4, "space": 7, "special": 1, "code": 2}


def random_strings(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    kinds = list(WEIGHTS)
    weights = [WEIGHTS[k] for k in kinds]
    out = []
    for _ in range(count):
        parts = [rng.choice(PIECES[rng.choices(kinds, weights)[0]]) for _ in range(rng.randint(1, 14))]
        out.append("".join(parts))
    return out


WORD_PROBLEMS = [
    "Tom has {a} apples and buys {b} more. He gives {c} to Anna. How many apples does he have left?",
    "A train travels {a} km in {b} hours. What is its average speed in km/h?",
    "Sara saves ${a}.{c}0 a week for {b} weeks, then spends $12.50. How much money is left?",
    "The recipe needs {c}/4 cup of sugar per batch. How much sugar do {b} batches need?",
    "{a} students share {b} pizzas equally; each pizza has 8 slices.\nHow many slices does each student get?",
]


def word_problems(count: int, seed: int) -> list[str]:
    """GSM8K-like arithmetic questions and worked answers (made up here, so no data set text is committed)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        a, b, c = rng.randint(2, 999), rng.randint(2, 48), rng.randint(1, 3)
        question = WORD_PROBLEMS[i % len(WORD_PROBLEMS)].format(a=a, b=b, c=c)
        out.append(question if i % 3 else f"{question}\n{a} + {b} = <<{a}+{b}={a + b}>>{a + b}\n#### {a + b}")
    return out


def corpus(chat_renders: list[str]) -> list[str]:
    texts = EDGE_CASES + EXTRA_CASES + chat_renders
    texts += word_problems(40, seed=7)
    texts += random_strings(175, seed=20261204)
    seen, unique = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            unique.append(t)
    return unique


# --------------------------------------------------------------------------------------------- reference

def load(path: Path):
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def backend_of(tok, keep_model: bool) -> dict:
    backend = json.loads(tok.backend_tokenizer.to_str())
    if not keep_model:
        model = backend["model"]
        vocab = sorted(model.pop("vocab").items(), key=lambda kv: (kv[1], kv[0]))
        model["vocabSha256"] = sha256([[t, i] for t, i in vocab])
        model["mergesSha256"] = sha256([list(m) for m in model.pop("merges")])
    return backend


def config_of(tok) -> dict:
    template = tok.chat_template
    return {
        "bos_token": tok.bos_token,
        "eos_token": tok.eos_token,
        "unk_token": tok.unk_token,
        "pad_token": tok.pad_token,
        "add_bos_token": tok.add_bos_token,
        "add_eos_token": tok.add_eos_token,
        # A digest: the template is the model's text, which stays in LORA_ASSETS_DIR.
        "chat_templateSha256": None if template is None else hashlib.sha256(template.encode("utf-8")).hexdigest(),
    }


def encodings(tok, texts: list[str]) -> dict:
    ids = [tok(t)["input_ids"] for t in texts]
    return {
        "texts": texts,
        "ids": ids,
        "idsPlain": [tok(t, add_special_tokens=False)["input_ids"] for t in texts],
        "decoded": [[tok.decode(i, skip_special_tokens=False) for i in ids], [tok.decode(i, skip_special_tokens=True) for i in ids]],
    }


def header(source: str) -> dict:
    return {
        "generatedBy": "tools/parity/data/make_gguf_tokenizer_fixtures.py",
        "versions": {"transformers": transformers.__version__, "gguf": importlib.metadata.version("gguf")},
        "source": source,
    }


def write(name: str, fixture: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(compact(fixture))
    size = path.stat().st_size
    assert size < 1_000_000, f"{path} is {size} bytes (limit 1 MB)"
    count = len(fixture["texts"]) if "texts" in fixture else sum(len(c["texts"]) for c in fixture["cases"])
    print(f"{path}: {count} texts, {size} bytes")


SMOLLM2_CHATS = [
    [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ],
    [
        {"role": "user", "content": "Write a haiku about the sea. 🌊"},
        {"role": "assistant", "content": "Waves fold into foam\nsalt wind carries gull voices\nthe tide keeps its time"},
    ],
]


def smollm2() -> None:
    path = assets() / SMOLLM2
    tok = load(path)
    chats = []
    for messages in SMOLLM2_CHATS + CHATS:
        for add_generation_prompt in (False, True):
            for turns in (messages, messages[:-1]):
                text = tok.apply_chat_template(turns, tokenize=False, add_generation_prompt=add_generation_prompt)
                chats.append({
                    "messages": turns,
                    "addGenerationPrompt": add_generation_prompt,
                    "textSha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                    "ids": tok(text, add_special_tokens=False)["input_ids"],
                })
    texts = corpus([])
    fixture = header(f"LORA_ASSETS_DIR/{SMOLLM2.as_posix()}")
    fixture |= {"backend": backend_of(tok, keep_model=False), "config": config_of(tok), "len": len(tok)}
    fixture |= encodings(tok, texts)
    fixture["chats"] = chats
    write("smollm2", fixture)


def stories_metadata() -> tuple[list[str], list[float], list[int], dict]:
    """tok512.model as llama.cpp's SentencePiece conversion writes it: piece, score, and the piece type
    (sentencepiece's NORMAL=1, UNKNOWN=2, CONTROL=3, USER_DEFINED=4, UNUSED=5, BYTE=6 are llama.cpp's numbers)."""
    sp = sentencepiece.SentencePieceProcessor(model_file=str(assets() / TOK512))
    n = sp.vocab_size()

    def kind(i: int) -> int:
        if sp.is_unknown(i):
            return 2
        if sp.is_control(i):
            return 3
        if sp.is_unused(i):
            return 5
        if sp.is_byte(i):
            return 6
        return 1

    tokens = [sp.id_to_piece(i) for i in range(n)]
    scores = [float(sp.get_score(i)) for i in range(n)]
    types = [kind(i) for i in range(n)]
    special = {"bos": sp.bos_id(), "eos": sp.eos_id(), "unk": sp.unk_id()}
    return tokens, scores, types, special


def write_gguf(path: Path, model: str, tokens, types, scores=None, merges=None, pre=None, ids=None, flags=None) -> None:
    w = gguf.GGUFWriter(str(path), "llama")
    # The smallest llama header transformers accepts; the one tensor gives the vocabulary size.
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_feed_forward_length(16)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(4)
    w.add_tokenizer_model(model)
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    if scores is not None:
        w.add_token_scores(scores)
    if merges is not None:
        w.add_token_merges(merges)
    for key, value in (ids or {}).items():
        getattr(w, f"add_{key}_token_id")(value)
    for key, value in (flags or {}).items():
        getattr(w, f"add_{key}")(value)
    w.add_tensor("token_embd.weight", np.zeros((len(tokens), 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def stories260k() -> None:
    tokens, scores, types, special = stories_metadata()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stories260k-tok512.gguf"
        write_gguf(path, "llama", tokens, types, scores=scores, pre="default",
                   ids={"bos": special["bos"], "eos": special["eos"], "unk": special["unk"]},
                   flags={"add_space_prefix": True})
        tok = load(path)
        fixture = header(f"GGUFWriter(tokenizer.ggml.model=llama) over LORA_ASSETS_DIR/{TOK512.as_posix()}")
        fixture |= {
            "metadataSha256": sha256([tokens, types]),
            "specialIds": special,
            "backend": backend_of(tok, keep_model=False),
            "config": config_of(tok),
            "len": len(tok),
        }
        fixture |= encodings(tok, corpus([]))
    write("stories260k", fixture)


def synthetic() -> None:
    b2u = bytes_to_unicode()
    byte_alphabet = [b2u[i] for i in range(256)]
    byte_level = {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "llama-bpe",
        "tokenizer.ggml.tokens": byte_alphabet + ["he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld",
                                                  "<|x|>", "<s>", "<think>", "<｜begin▁of▁sentence｜>", "日本"],
        "tokenizer.ggml.token_type": [1] * 265 + [3, 3, 4, 3, 1],
        "tokenizer.ggml.merges": ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"],
        "tokenizer.ggml.bos_token_id": 266,
        "tokenizer.ggml.eos_token_id": 265,
        "tokenizer.ggml.add_bos_token": True,
    }
    letters = ["▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "he", "ll", "▁he", "llo", "▁hello", "▁w", "or", "▁wor", "ld", "▁world"]
    sentencepiece_kind = {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": ["<unk>", "<bos>", "<eos>"] + [f"<0x{i:02X}>" for i in range(256)] + letters + ["<think>", "<ctl>"],
        "tokenizer.ggml.token_type": [2, 3, 3] + [6] * 256 + [1] * len(letters) + [4, 3],
        "tokenizer.ggml.scores": [0.0] * 259 + [-float(i) for i in range(len(letters))] + [0.0, 0.0],
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.unknown_token_id": 0,
        "tokenizer.ggml.padding_token_id": 2,
        "tokenizer.ggml.add_eos_token": True,
    }
    texts = ["hello world", "hello", " hello  world ", "hi<|x|>there <think>x", "<s>hello</s>", "<bos>hello<eos>",
             "日本 hello", "<｜begin▁of▁sentence｜>hello", "<|endoftext|>", "", " ", "\n\nhello\tworld\n", "héllo wörld 🙂"]
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, meta in (("byte-level", byte_level), ("sentencepiece", sentencepiece_kind)):
            path = Path(tmp) / name / "t.gguf"
            path.parent.mkdir()
            ids = {k: meta[f"tokenizer.ggml.{v}"] for k, v in
                   (("bos", "bos_token_id"), ("eos", "eos_token_id"), ("unk", "unknown_token_id"), ("pad", "padding_token_id"))
                   if f"tokenizer.ggml.{v}" in meta}
            flags = {k: meta[f"tokenizer.ggml.{k}"] for k in ("add_bos_token", "add_eos_token") if f"tokenizer.ggml.{k}" in meta}
            write_gguf(path, meta["tokenizer.ggml.model"], meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.token_type"],
                       scores=meta.get("tokenizer.ggml.scores"), merges=meta.get("tokenizer.ggml.merges"),
                       pre=meta.get("tokenizer.ggml.pre"), ids=ids, flags=flags)
            tok = load(path)
            case = {"name": name, "metadata": {"general.architecture": "llama", **meta}, "backend": backend_of(tok, keep_model=True),
                    "config": config_of(tok), "len": len(tok)}
            case |= encodings(tok, texts)
            if name == "sentencepiece":
                # Byte-fallback runs that are not valid UTF-8 (one U+FFFD per byte in Rust), and a BOM.
                byte = lambda b: 3 + b  # noqa: E731 - <0xNN> ids follow the three specials
                runs = [[byte(0xE2), byte(0x82)], [byte(0xEF), byte(0xBB), byte(0xBF), 262], [byte(0xFF), 262, byte(0xC3)], [1, byte(0x41), 2]]
                case["byteRuns"] = {"ids": runs, "decoded": [tok.decode(r, skip_special_tokens=False) for r in runs]}
            cases.append(case)
    fixture = header("hand-made metadata (stored whole in `cases[].metadata`)")
    fixture["cases"] = cases
    write("synthetic", fixture)


def main() -> None:
    targets = sys.argv[1:] or ["synthetic", "stories260k", "smollm2"]
    for name in targets:
        {"synthetic": synthetic, "stories260k": stories260k, "smollm2": smollm2}[name]()


if __name__ == "__main__":
    main()
