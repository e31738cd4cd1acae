"""Writes fixtures/llama2c/* from karpathy/llama2.c's own run.c and from Python sentencepiece.

Regenerate (see README.md in this folder for how `run` and `ids` are built, outside the repo):

    /opt/parity/bin/pip install sentencepiece==0.2.3
    /opt/parity/bin/python tools/parity/llama2c/make_fixtures.py \
        --run /work/ref/llama2.c/run --ids /work/ref/harness/ids \
        --assets "$LORA_ASSETS_DIR/models/stories260K" --out fixtures/llama2c

Outputs
  stories260K-greedy-200.txt  exact stdout of `run stories260K.bin -z tok512.bin -t 0 -n 200` (empty prompt)
  stories260K-greedy.json     every generation case: command, stdout, prompt ids (with BOS) and the
                              greedily generated ids, as printed by the `ids` harness
  encode.json                 a fixed corpus encoded by run.c's encode() (bos=0, eos=0) and by
                              sentencepiece on tok512.model, with the entries where the two differ
"""

from __future__ import annotations

import argparse
import json
import shlex
import struct
import subprocess
from pathlib import Path

import sentencepiece as spm

# The generation cases: (name, prompt, steps). Steps count forward passes including the BOS position,
# so an empty prompt with -n 200 yields 200 new tokens, and a prompt of P ids (BOS included) yields
# 200 - (P - 1) new tokens.
CASES = [
    ("empty-200", "", 200),
    ("once-upon-a-time-100", "Once upon a time", 100),
    ("lily-and-tom-100", "Lily and Tom", 100),
    ("little-dog-100", "The little dog was sad because", 100),
]

# Encode corpus: ASCII prose, punctuation, digits, whitespace runs, tabs and newlines, accented
# Latin, CJK, emoji (4-byte UTF-8), text that looks like special or byte tokens, and the empty string.
CORPUS = [
    "",
    "Once upon a time",
    "Once upon a time, there was a little girl named Lily.",
    "Lily's mom said, \"Lily, let's go to the park.\"",
    "Hello",
    "hello world",
    " leading space",
    "trailing space ",
    "two  spaces   and    four",
    "  ",
    " ",
    "tab\tseparated\tvalues",
    "line one\nline two\n\nline four",
    "\n",
    "0123456789",
    "3.14159 and 2,718 and 1e-5",
    "In 2024, 42 cats ate 1000 fish.",
    "café naïve résumé",
    "Größe über Straße",
    "日本語のテキスト",
    "emoji 🙂 and 🚀🚀",
    "€100 — “quoted” ‘single’ …",
    "<s> </s> <unk> <0x41>",
    "a",
    "The",
    "!!!???...",
    "mixed: Tom's 3 dogs ran 🐕 fast\tand far\n",
    "ünïcödé",
    "\u2028line separator\u00a0nbsp",
    # merge tie-breaking (equal scores: run.c takes the leftmost pair)
    "aaaaaaaaaaaaaaaaa",
    "eeeeeeee      tttttt",
    "abababababab",
    "the the the the",
    "heheheh hehe",
    # a longer passage
    "One day, a little boy named Tim went to the park with his mom. He saw a big red ball and he "
    "wanted to play with it. \"Can I play?\" he asked. His mom smiled and said, \"Yes, but be careful!\"\n"
    "Tim kicked the ball high into the sky. It flew over the trees and landed in a pond. Splash!",
]


def run_c_stdout(run: Path, assets: Path, prompt: str, steps: int) -> tuple[list[str], str]:
    cmd = [str(run), str(assets / "stories260K.bin"), "-z", str(assets / "tok512.bin"), "-t", "0", "-n", str(steps)]
    if prompt:
        cmd += ["-i", prompt]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    return cmd, out.decode("utf-8")


def harness_gen(ids: Path, assets: Path, prompt: str, steps: int) -> dict:
    cmd = [str(ids), "gen", str(assets / "stories260K.bin"), str(assets / "tok512.bin"), str(steps), prompt]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)


def harness_encode(ids: Path, assets: Path, texts: list[str]) -> list[list[int]]:
    stdin = "".join(t.encode("utf-8").hex() + "\n" for t in texts)
    cmd = [str(ids), "encode", str(assets / "stories260K.bin"), str(assets / "tok512.bin")]
    rows = json.loads(subprocess.run(cmd, check=True, capture_output=True, input=stdin.encode()).stdout)
    assert [r["text"] for r in rows] == texts
    return [r["ids"] for r in rows]


def read_vocab(path: Path) -> list[bytes]:
    data = path.read_bytes()
    offset, vocab = 4, []
    while offset < len(data):
        _score, length = struct.unpack_from("<fi", data, offset)
        offset += 8
        vocab.append(data[offset : offset + length])
        offset += length
    return vocab


def run_c_print(vocab: list[bytes], ids: list[int]) -> str:
    """Re-creates run.c's printing (decode + safe_printf) to cross-check the harness ids."""
    out, prev = b"", ids[0]
    for tok in ids[1:]:
        piece = vocab[tok]
        if prev == 1 and piece.startswith(b" "):
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            piece = bytes([int(piece[3:5], 16)])
        if len(piece) == 1 and not (0x20 <= piece[0] < 0x7F or piece[0] in b" \t\n\v\f\r"):
            piece = b""
        out += piece
        prev = tok
    return (out + b"\n").decode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True, help="llama2.c run binary (gcc -O3 run.c -lm)")
    parser.add_argument("--ids", type=Path, required=True, help="id-printing harness around run.c")
    parser.add_argument("--assets", type=Path, required=True, help="folder with stories260K.bin, tok512.bin, tok512.model")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    vocab = read_vocab(args.assets / "tok512.bin")

    cases = []
    for name, prompt, steps in CASES:
        cmd, stdout = run_c_stdout(args.run, args.assets, prompt, steps)
        gen = harness_gen(args.ids, args.assets, prompt, steps)
        assert gen["prompt"] == prompt and gen["steps"] == steps
        all_ids = gen["promptIds"] + gen["generatedIds"]
        assert run_c_print(vocab, all_ids) == stdout, f"harness ids do not reprint run.c stdout for {name}"
        cases.append(
            {
                "name": name,
                "prompt": prompt,
                "steps": steps,
                "command": shlex.join(["./run", "stories260K.bin", "-z", "tok512.bin", *cmd[4:]]),
                "stdout": stdout,
                "promptIds": gen["promptIds"],
                "generatedIds": gen["generatedIds"],
            }
        )
        if name == "empty-200":
            (args.out / "stories260K-greedy-200.txt").write_text(stdout, encoding="utf-8")
    (args.out / "stories260K-greedy.json").write_text(json.dumps({"cases": cases}, indent=1, ensure_ascii=False) + "\n")

    sp = spm.SentencePieceProcessor(model_file=str(args.assets / "tok512.model"))
    run_ids = harness_encode(args.ids, args.assets, CORPUS)
    entries = []
    for text, rc in zip(CORPUS, run_ids):
        spi = sp.encode(text)
        entries.append({"text": text, "runc": rc, "sentencepiece": spi, "agree": rc == spi})
    (args.out / "encode.json").write_text(
        json.dumps({"tokenizer": "tok512", "bos": False, "eos": False, "entries": entries}, ensure_ascii=False) + "\n"
    )
    for e in entries:
        if not e["agree"]:
            print("differs:", json.dumps(e, ensure_ascii=False))


if __name__ == "__main__":
    main()
