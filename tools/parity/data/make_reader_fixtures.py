"""Writes the Parquet fixtures of @lora/data's readers with pyarrow (the reference writer).

Regenerate (from the repository root):
    /opt/parity/bin/python -m pip install pyarrow   # once
    /opt/parity/bin/python tools/parity/data/make_reader_fixtures.py

Outputs, in packages/data/fixtures/readers/:
    mixed.parquet          10 rows in 3 row groups (4+4+2), snappy pages, dictionary-encoded strings,
                           int64 / int32 / float64 / list<string> / nullable string columns,
                           one int64 beyond 2**53
    mixed-plain.parquet    the same table, uncompressed, no dictionary, one row group
    mixed.expected.json    the rows as pyarrow reads them back (int64 beyond 2**53 as a string),
                           which the TypeScript test compares against
    invalid-utf8.parquet   4 rows of a `string` column `text` and a list<string> `tags`; rows 2 and 4
                           hold bytes that are not UTF-8 (written through a binary array viewed as
                           string, as a careless writer produces them)
"""
import json
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

OUT = pathlib.Path(__file__).resolve().parents[3] / "packages" / "data" / "fixtures" / "readers"

rows = [
    {
        "id": i,
        "prompt": p,
        "completion": c,
        "options": o,
        "answer": a,
        "score": s,
        "note": n,
        "big": b,
    }
    for i, (p, c, o, a, s, n, b) in enumerate(
        [
            ("What is 2+2?", "4", ["3", "4", "5"], 1, 0.5, None, 1),
            ("Say \"hi\", then stop.", "hi", ["hi", "bye"], 0, -1.25, "quoted", 2),
            ("Line one\nline two", "two lines", ["a", "b", "c", "d"], 3, 1e-7, "newline", 3),
            ("Ünïcödé — ok?", "oui ✓", ["ja", "nein"], 0, 3.141592653589793, None, 4),
            ("emoji 🦙 llama", "🦙", ["🦙", "🐪"], 0, 2.5, "emoji", 5),
            ("tabs\tand,commas", "fine", ["x", "y"], 1, 0.0, "csv-hostile", 6),
            ("", "empty prompt", ["only", "two"], 1, 100.0, "empty", 7),
            ("中文问题", "中文回答", ["甲", "乙", "丙"], 2, -0.001, None, 8),
            ("last group first", "x", ["p", "q"], 0, 42.0, "g3", 2**53 + 1),
            ("last row", "y", ["r", "s", "t"], 2, 7.75, "end", -(2**40)),
        ]
    )
]

schema = pa.schema(
    [
        ("id", pa.int64()),
        ("prompt", pa.string()),
        ("completion", pa.string()),
        ("options", pa.list_(pa.string())),
        ("answer", pa.int32()),
        ("score", pa.float64()),
        ("note", pa.string()),
        ("big", pa.int64()),
    ]
)
table = pa.Table.from_pylist(rows, schema=schema)

OUT.mkdir(parents=True, exist_ok=True)
pq.write_table(table, OUT / "mixed.parquet", row_group_size=4, compression="snappy", use_dictionary=True)
pq.write_table(table, OUT / "mixed-plain.parquet", compression="none", use_dictionary=False)

texts = [b"fine", b"caf\xe9 au lait", b"also fine", b"ok"]
tags = [[b"a"], [b"b"], [b"c"], [b"d\xff"]]
bad = pa.table(
    {
        "text": pa.array(texts, type=pa.binary()).view(pa.string()),
        "tags": pa.array(tags, type=pa.list_(pa.binary())).view(pa.list_(pa.string())),
    }
)
pq.write_table(bad, OUT / "invalid-utf8.parquet", compression="none", use_dictionary=False)
assert pq.ParquetFile(OUT / "invalid-utf8.parquet").schema_arrow.field("text").type == pa.string()

back = pq.read_table(OUT / "mixed.parquet")
assert back.num_rows == len(rows)
assert pq.ParquetFile(OUT / "mixed.parquet").metadata.num_row_groups == 3
expected = []
for row in back.to_pylist():
    row["big"] = row["big"] if abs(row["big"]) <= 2**53 - 1 else str(row["big"])
    expected.append(row)
(OUT / "mixed.expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print("wrote", sorted(p.name for p in OUT.iterdir()))
