/**
 * tfjs-backend-wasm's C++ kernels report a failed XNNPACK call with a printf to stderr, which
 * Emscripten forwards to `console.warn` (bound once, when the wasm module is instantiated):
 * `XNN status for xnn_create_fully_connected_nc_f32 is not successful. Got status 6. Use -c dbg
 * to see XNN logs.` The kernel then returns without writing its output, and since a failed
 * operator is not cached it fails (and prints) again at every call: once per generated token.
 * Nothing in tfjs turns it off, so the wasm backend installs this filter before the module
 * starts: the first such message becomes one line that says what it means, the rest are dropped.
 * Every other warning passes through unchanged.
 */
const XNN_MESSAGE = /^XNN status for (\S+) is not successful\. Got status (\d+)\. Use -c dbg to see XNN logs\.\s*$/;

/** XNNPACK's `xnn_status` names, by value (xnnpack.h). */
const XNN_STATUS = [
  'success',
  'uninitialized',
  'invalid parameter',
  'invalid state',
  'unsupported parameter',
  'unsupported hardware',
  'out of memory',
];

/** The one line that replaces XNNPACK status messages, or `undefined` when `text` is not one. @internal */
export function explainXnnStatus(text: string): string | undefined {
  const match = XNN_MESSAGE.exec(text);
  if (match === null) return undefined;
  const [, op, code] = match;
  const status = XNN_STATUS[Number(code)] ?? 'unknown status';
  const hint =
    code === '6'
      ? 'The wasm heap is nearly full: use a smaller batch or model, or the tensorflow backend (pnpm setup:tensorflow).'
      : 'XNNPACK refused the shapes (e.g. more than 6 dimensions): please report it with the command you ran; the tensorflow or cpu backend computes it.';
  return `lora: the wasm backend's XNNPACK failed in ${op} (status ${code}: ${status}); that kernel's output is not computed, so results from here on can be wrong. ${hint} Further XNN status messages are not shown.`;
}

let installed = false;

/**
 * Wraps `console.warn` so that XNNPACK status messages print once, explained ({@link explainXnnStatus}).
 * Idempotent; call it before the wasm backend is initialised. @internal
 */
export function filterXnnStatusMessages(): void {
  if (installed) return;
  installed = true;
  const warn = console.warn.bind(console);
  let shown = false;
  console.warn = (...args: unknown[]) => {
    const explained = args.length === 1 && typeof args[0] === 'string' ? explainXnnStatus(args[0]) : undefined;
    if (explained === undefined) return warn(...args);
    if (!shown) {
      shown = true;
      warn(explained);
    }
  };
}
