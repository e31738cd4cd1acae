"""Reference fixtures for @lora/eval metrics (fixtures/eval/).

Writes:
  fixtures/eval/gsm8k-extraction.json  GSM8K strict-match / flexible-extract extractions and
      exact_match scores computed by lm-evaluation-harness itself (its RegexFilter, TakeFirstFilter
      and exact_match_hf_evaluate, configured from the gsm8k.yaml shipped in the installed package),
      on real GSM8K test answers plus crafted edge cases.
  fixtures/eval/classification.json    accuracy, per-class precision/recall/F1/support, macro and
      weighted averages, confusion matrices (scikit-learn).
  fixtures/eval/calibration.json       calibration_curve(strategy='uniform') bins (scikit-learn) and
      the ECE from the same binning.

Regenerate (from the repository root; needs LORA_ASSETS_DIR pointing at ../shared for the GSM8K
test split, and lm_eval + scikit-learn in the parity venv):
  /opt/parity/bin/pip install scikit-learn==1.9.1 sacrebleu evaluate && /opt/parity/bin/pip install --no-deps lm_eval==0.4.9.1
  LORA_ASSETS_DIR=/work/shared /opt/parity/bin/python tools/parity/eval/make_eval_fixtures.py
"""

import json
import os
from pathlib import Path

import numpy as np
import sklearn
import yaml
import lm_eval
from lm_eval.api.metrics import exact_match_hf_evaluate
from lm_eval.filters.extraction import RegexFilter
from lm_eval.filters.selection import TakeFirstFilter
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

OUT = Path(__file__).resolve().parents[3] / "fixtures" / "eval"
N_GSM8K = 180


def gsm8k_config():
    path = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k.yaml"
    # The yaml holds `!function` tags in other tasks; gsm8k.yaml is plain.
    return yaml.safe_load(path.read_text())


def harness_filters(cfg):
    filters = {}
    for f in cfg["filter_list"]:
        steps = []
        for step in f["filter"]:
            kwargs = {k: v for k, v in step.items() if k != "function"}
            if step["function"] == "regex":
                steps.append(RegexFilter(**kwargs))
            elif step["function"] == "take_first":
                steps.append(TakeFirstFilter())
            else:
                raise ValueError(step["function"])
        filters[f["name"]] = steps
    return filters


def apply_filters(steps, response):
    resps = [[response]]
    for s in steps:
        resps = list(s.apply(resps, [{}]))
    return resps[0]


# (response, the number the crafted reference ends with as "#### N")
CRAFTED = [
    ("The answer is 42.", "42"),
    ("#### 1,234.5", "1234.5"),
    ("#### -7", "-7"),
    ("So she pays $18.00.", "18"),
    ("####  5", "5"),
    ("#### 5\n#### 6", "5"),
    ("nothing here", "0"),
    ("1", "1"),
    ("-", "0"),
    ("3 apples and 4 oranges, total 7.", "7"),
    ("Answer: 1,000,000", "1000000"),
    ("It is 5.\n", "5"),
    ("x = -3.5, y = 2", "-3.5"),
    ("$5", "5"),
    ("The result is 12.\n\nQuestion: what next?", "12"),
    ("## 4", "4"),
    ("####5", "5"),
    ("12-3=9", "9"),
    ("1.2.3", "1.2.3"),
    ("Total: 5,000.", "5,000"),
    ("#### 18.", "18"),
    ("#### 18\n", "18"),
    ("She earns $1,080 per week. #### 1080", "1,080"),
    ("..", "0"),
    ("-- 8", "-8"),
    ("#### .5", ".5"),
    ("The total is 3 dollars and 50 cents, i.e. 3.50", "3.5"),
    ("18 eggs\n#### 18 eggs", "18"),
    ("Ans: \u0663\u0664 or 34", "34"),
    ("", "0"),
    ("The answer is -0.5.\n", "-.5"),
    ("ANSWER #### 7", "7"),
]


def make_gsm8k():
    assets = os.environ.get("LORA_ASSETS_DIR")
    if not assets:
        raise SystemExit("set LORA_ASSETS_DIR to the shared assets folder (../shared)")
    rows = [json.loads(l) for l in (Path(assets) / "data" / "gsm8k" / "test.jsonl").read_text().splitlines()[:N_GSM8K]]
    answers = [r["answer"] for r in rows]
    cfg = gsm8k_config()
    filters = harness_filters(cfg)
    em_kwargs = {k: v for k, v in cfg["metric_list"][0].items() if k in ("ignore_case", "ignore_punctuation", "regexes_to_ignore")}
    cases = []

    def add(response, ref_index=None, reference=None, kind="", response_index=None):
        ref = answers[ref_index] if ref_index is not None else reference
        # A response that is one of the answers is stored by index to keep the fixture small.
        case = {"kind": kind, "responseIndex": response_index} if response_index is not None else {"kind": kind, "response": response}
        if ref_index is not None:
            case["referenceIndex"] = ref_index
        else:
            case["reference"] = reference
        for name, steps in filters.items():
            extracted = apply_filters(steps, response)
            score = exact_match_hf_evaluate(predictions=[extracted], references=[ref], **em_kwargs)["exact_match"]
            case[name] = {"extracted": extracted, "exact_match": float(score)}
        cases.append(case)

    for i, a in enumerate(answers):
        add(a, ref_index=i, kind="gold answer", response_index=i)
        add(a.rsplit("\n#### ", 1)[0], ref_index=i, kind="reasoning without the final line")
        if i % 4 == 0:
            add(answers[(i + 1) % len(answers)], ref_index=i, kind="another question's answer", response_index=(i + 1) % len(answers))
    for j, (r, n) in enumerate(CRAFTED):
        add(r, ref_index=j % len(answers), kind="crafted vs a real answer")
        add(r, reference=f"Some reasoning, 1 + 1 = 2.\n#### {n}", kind="crafted vs its own number")
    return {
        "source": f"lm_eval {lm_eval.__version__}, tasks/gsm8k/gsm8k.yaml version {cfg['metadata']['version']}; GSM8K test.jsonl first {N_GSM8K} rows",
        "filters": cfg["filter_list"],
        "exactMatch": em_kwargs,
        "answers": answers,
        "cases": cases,
    }


def make_classification():
    rng = np.random.default_rng(7)
    labels = ["ALLOW", "DENY", "ESCALATE"]
    truth = rng.choice(labels, size=200, p=[0.5, 0.3, 0.2]).tolist()
    pred = [t if rng.random() < 0.7 else str(rng.choice(labels + ["UNKNOWN"])) for t in truth]
    cases = []
    # 1) default labels (sorted union, an extra predicted label); 2) fixed labels; 3) a class never predicted.
    never = [p if p != "ESCALATE" else "ALLOW" for p in pred]
    for name, t, p, lab in [("union", truth, pred, None), ("fixed-labels", truth, pred, labels), ("never-predicted", truth, never, None)]:
        used = sorted(set(t) | set(p)) if lab is None else lab
        prec, rec, f1, sup = precision_recall_fscore_support(t, p, labels=used, zero_division=0)
        avg = {}
        for a in ("macro", "weighted"):
            pa, ra, fa, _ = precision_recall_fscore_support(t, p, labels=used, average=a, zero_division=0)
            avg[a] = {"precision": pa, "recall": ra, "f1": fa}
        cases.append({
            "name": name,
            "truth": t,
            "predicted": p,
            "labels": lab,
            "expected": {
                "labels": used,
                "accuracy": accuracy_score(t, p),
                "perClass": {l: {"precision": prec[i], "recall": rec[i], "f1": f1[i], "support": int(sup[i])} for i, l in enumerate(used)},
                "macro": avg["macro"],
                "weighted": avg["weighted"],
                "confusion": confusion_matrix(t, p, labels=used).tolist(),
            },
        })
    return {"source": f"scikit-learn {sklearn.__version__}", "cases": cases}


def make_calibration():
    rng = np.random.default_rng(11)
    conf = rng.random(300)
    conf[:8] = [0.0, 0.1, 0.3, 0.7, 1.0, 0.5, 0.9, 0.2]  # exact bin edges
    correct = (rng.random(300) < conf).astype(int)
    out = []
    for n_bins in (10, 15):
        prob_true, prob_pred = calibration_curve(correct, conf, n_bins=n_bins, strategy="uniform")
        bins = np.linspace(0.0, 1.0, n_bins + 1)
        ids = np.searchsorted(bins[1:-1], conf)
        total = np.bincount(ids, minlength=n_bins)
        nz = total != 0
        ece = float(np.sum(total[nz] / len(conf) * np.abs(prob_true - prob_pred)))
        out.append({"bins": n_bins, "counts": total.tolist(), "accuracy": prob_true.tolist(), "confidence": prob_pred.tolist(), "ece": ece, "mce": float(np.max(np.abs(prob_true - prob_pred)))})
    return {"source": f"scikit-learn {sklearn.__version__} calibration_curve(strategy='uniform')", "confidences": conf.tolist(), "correct": correct.tolist(), "cases": out}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in [("gsm8k-extraction.json", make_gsm8k()), ("classification.json", make_classification()), ("calibration.json", make_calibration())]:
        (OUT / name).write_text(json.dumps(data, ensure_ascii=False, default=float, separators=(",", ":")) + "\n")
        print(name, (OUT / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
