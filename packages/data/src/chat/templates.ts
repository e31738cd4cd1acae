/**
 * Chat template of the stories260K recipes. The model has no chat template of its own and its
 * llama2.c tokenizer knows no special tokens, so turns are plain text:
 *
 * ```text
 * <system>\n\n            (optional)
 * User: <user>\n
 * Assistant: <assistant>\n
 * ```
 *
 * The generation prompt is `Assistant:` (no trailing space), so a completion starts with the
 * space-prefixed first word as in the pretraining stories. Encode with `addBos: true`.
 * Tool and other roles raise an error. Identical to `STORIES_TEMPLATE` in
 * tools/parity/data/make_chat_fixtures.py.
 */
export const STORIES_CHAT_TEMPLATE =
  '{%- for message in messages -%}\n' +
  "{%- if message.role == 'system' -%}\n" +
  "{{ message.content | trim }}{{ '\\n\\n' }}\n" +
  "{%- elif message.role == 'user' -%}\n" +
  "{{ 'User: ' }}{{ message.content | trim }}{{ '\\n' }}\n" +
  "{%- elif message.role == 'assistant' -%}\n" +
  "{{ 'Assistant: ' }}{{ message.content | trim }}{{ '\\n' }}\n" +
  '{%- else -%}\n' +
  "{{ raise_exception('stories260K chat template: unsupported role ' + message.role) }}\n" +
  '{%- endif -%}\n' +
  '{%- endfor -%}\n' +
  "{%- if add_generation_prompt -%}{{ 'Assistant:' }}{%- endif -%}\n";
