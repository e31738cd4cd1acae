import { JudgeCallError } from '../errors/judge-call-error.js';
import type { StructuredOutputMode, StructuredOutputReport } from '../model.js';
import { namesResponseFormat } from '../runtime/http-error.js';

const weaker: Record<StructuredOutputMode, StructuredOutputMode | undefined> = {
  json_schema: 'json_object',
  json_object: 'none',
  none: undefined,
};

/**
 * Picks the structured-output mode of one endpoint and remembers it for the judge's lifetime
 * (one judge = one base URL = one run). In `auto`, requests start with `json_schema`; a refusal
 * (400 or 422, or a 5xx whose body names `response_format`, as llama-cpp-python sends) steps
 * down to `json_object`, then to `none`. Until a mode has answered once, one request at a time
 * probes, so a server that refuses a mode sees it exactly once (and a wrong key, 401/403, only
 * once: later requests fail with the same error unsent). A refusal becomes a
 * `response-format` {@link JudgeCallError}, which {@link JudgeClient} re-sends at once.
 */
export class StructuredOutputNegotiator {
  private mode: StructuredOutputMode;
  private confirmed: boolean;
  private probe: Promise<void> | undefined;
  /** The first 401/403: the key is wrong for this endpoint, so later requests are not sent. */
  private authError: JudgeCallError | undefined;
  private readonly fallbacks: StructuredOutputReport['fallbacks'] = [];

  constructor(
    private readonly provider: string,
    private readonly requested: 'auto' | StructuredOutputMode,
  ) {
    this.mode = requested === 'auto' ? 'json_schema' : requested;
    this.confirmed = requested !== 'auto';
  }

  /** The mode in use and the fallbacks so far. */
  report(): StructuredOutputReport {
    return { requested: this.requested, mode: this.mode, fallbacks: this.fallbacks.map((f) => ({ ...f })) };
  }

  /** Sends one request in the current mode; turns a refusal of that mode into a step down. */
  async run<T>(send: (mode: StructuredOutputMode) => Promise<T>): Promise<T> {
    while (!this.confirmed && this.probe !== undefined) await this.probe;
    if (this.authError !== undefined) throw this.authError;
    const mode = this.mode;
    let release: (() => void) | undefined;
    if (!this.confirmed) this.probe = new Promise<void>((resolve) => (release = resolve));
    try {
      const result = await send(mode);
      if (this.mode === mode) this.confirmed = true;
      return result;
    } catch (error) {
      throw this.refusal(error, mode);
    } finally {
      if (release !== undefined) {
        this.probe = undefined;
        release();
      }
    }
  }

  private refusal(error: unknown, mode: StructuredOutputMode): unknown {
    if (!JudgeCallError.isInstance(error) || error.status === undefined) return error;
    if (error.kind === 'auth') {
      this.authError ??= error;
      return error;
    }
    const status = error.status;
    const refused = status === 400 || status === 422 || (status >= 500 && namesResponseFormat(error.detail));
    if (!refused) return error;
    if (this.requested !== 'auto') {
      if (!namesResponseFormat(error.detail)) return error;
      const hint = mode === 'none' ? '' : `; try response format \`${weaker[mode]}\` (--response-format ${weaker[mode]}) or \`auto\``;
      return new JudgeCallError({ provider: this.provider, kind: 'client', status, message: `${error.detail}${hint}`, cause: error });
    }
    if (this.confirmed && this.mode === mode) return error; // this mode has worked: the request itself is at fault
    if (this.mode === mode) {
      const next = weaker[mode];
      if (next === undefined) return error;
      this.mode = next;
      this.fallbacks.push({ from: mode, to: next, status, reason: error.detail });
    }
    return new JudgeCallError({
      provider: this.provider,
      kind: 'response-format',
      status,
      message: `server refused response_format \`${mode}\`; now using \`${this.mode}\`: ${error.detail}`,
      cause: error,
    });
  }
}
