import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';

/**
 * @huggingface/jinja 0.5.11 ignores the argument of `str.strip(chars)`, `lstrip(chars)` and
 * `rstrip(chars)` and always trims whitespace. Qwen3's template calls `content.lstrip('\n')` and
 * `reasoning_content.strip('\n')`, so an assistant message starting with "\n " renders differently
 * from transformers. This gives the three methods Python's meaning when an argument is passed;
 * calls without an argument are unchanged. Applied once, on import of chat-template.ts.
 * @internal
 */
export function patchJinjaStripMethods(): void {
  type Fn = (args: { value: unknown }[]) => unknown;
  interface StringValueLike {
    value: string;
    builtins: Map<string, unknown>;
  }
  const probe = new Interpreter(new Environment()).run(parse(tokenize('x'))) as unknown as StringValueLike;
  const proto = Object.getPrototypeOf(probe) as object;
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'builtins');
  const StringValue = probe.constructor as new (value: string) => unknown;
  const FunctionValue = (probe.builtins.get('strip') as object | undefined)?.constructor as (new (fn: Fn) => unknown) | undefined;
  const marker = Symbol.for('lora.jinja.strip-patched');
  if (descriptor?.get === undefined || FunctionValue === undefined || (proto as Record<symbol, unknown>)[marker] === true) return;
  const originalGet = descriptor.get;
  const strip = (s: string, chars: string, left: boolean, right: boolean): string => {
    const set = new Set(chars);
    let a = 0;
    let b = s.length;
    if (left) while (a < b && set.has(s[a] ?? '')) a++;
    if (right) while (b > a && set.has(s[b - 1] ?? '')) b--;
    return s.slice(a, b);
  };
  Object.defineProperty(proto, 'builtins', {
    configurable: true,
    get(this: StringValueLike) {
      const map = originalGet.call(this) as Map<string, unknown> & { [marker]?: true };
      if (map[marker] !== true) {
        for (const [name, left, right] of [
          ['strip', true, true],
          ['lstrip', true, false],
          ['rstrip', false, true],
        ] as const) {
          const original = map.get(name) as { value: Fn } | undefined;
          map.set(
            name,
            new FunctionValue((args) => {
              const chars = args[0]?.value;
              if (typeof chars !== 'string') return original?.value(args);
              return new StringValue(strip(this.value, chars, left, right));
            }),
          );
        }
        map[marker] = true;
      }
      return map;
    },
  });
  (proto as Record<symbol, unknown>)[marker] = true;
}
