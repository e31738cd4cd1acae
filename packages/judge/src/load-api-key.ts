import { LoadApiKeyError } from './errors/load-api-key-error.js';

/**
 * Returns `apiKey` when given, else the first non-empty environment variable of `environmentVariableNames`.
 * Throws a {@link LoadApiKeyError} that names the variables and the option to set. The key is
 * never logged or written anywhere.
 *
 * @example
 * ```ts
 * const key = loadApiKey({ apiKey: options.apiKey, environmentVariableNames: ['OPENAI_API_KEY'], description: 'OpenAI' });
 * ```
 */
export function loadApiKey(options: {
  apiKey?: string | undefined;
  environmentVariableNames: readonly string[];
  description: string;
  env?: Readonly<Record<string, string | undefined>>;
}): string {
  if (options.apiKey !== undefined && options.apiKey !== '') return options.apiKey;
  const env = options.env ?? process.env;
  for (const variable of options.environmentVariableNames) {
    const value = env[variable];
    if (value !== undefined && value !== '') return value;
  }
  const names = options.environmentVariableNames.map((n) => `\`${n}\``).join(' or ');
  throw new LoadApiKeyError({
    message: `${options.description} API key is missing: set the environment variable ${names}, or pass the \`apiKey\` option`,
  });
}
