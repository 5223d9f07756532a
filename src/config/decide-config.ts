/**
 * Config section `decide:` (the decision service, src/assistant/): which strategy answers, the seed of the
 * `random` one, the OpenAI-compatible endpoint of the `llm` one, and how decisions are scored. An invalid
 * value is a ConfigError naming e.g. `decide.llm.baseUrl`.
 *
 *   decide:
 *     strategy: rules            # rules (default), random, llm
 *     seed: 1                    # random: the same seed gives the same answers
 *     horizons: [15m, 1h, 4h]    # each decision is scored when each horizon has passed
 *     hitThreshold: 0.001        # a BUY hits when the price rose more than 0.1% (SELL: fell; HOLD: moved less)
 *     scoreInterval: 30s
 *     llm:
 *       baseUrl: https://api.openai.com/v1   # any OpenAI-compatible chat-completions API
 *       model: gpt-4o-mini
 *       apiKeyFile: ~            # or env CANDLESTACK_LLM_API_KEY; never logged
 *       timeout: 5s
 *
 * The API key is never a config value: it comes from CANDLESTACK_LLM_API_KEY or the file `apiKeyFile` names.
 */
import { ConfigError } from '../core/errors.js';
import { duration, int, nullable, num, oneOf, stringList, url, parseDuration, formatDuration, type Parse } from './fields.js';
import { leaf, section } from './schema.js';

export const STRATEGIES = ['rules', 'random', 'llm'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface LlmSettings {
  baseUrl: string;
  model: string;
  apiKeyFile: string | null;
  timeoutMs: number;
}

export interface DecideConfig {
  strategy: StrategyName;
  seed: number;
  /** Scoring horizons, milliseconds, ascending. */
  horizonsMs: number[];
  hitThreshold: number;
  scoreIntervalMs: number;
  llm: LlmSettings;
}

const DAY = 86_400_000;

const horizons: Parse<number[]> = (v, field) => {
  const items = typeof v === 'number' ? [v] : Array.isArray(v) ? v : stringList(v, field);
  const expected = 'a list of durations from 1m to 7d, e.g. 15m,1h,4h';
  if (items.length === 0 || items.length > 6) throw new ConfigError(field, `${expected} (1 to 6 of them)`, v);
  const ms = items.map((x) => {
    const d = parseDuration(x);
    if (d === undefined || d < 60_000 || d > 7 * DAY) throw new ConfigError(field, expected, x);
    return d;
  });
  return [...new Set(ms)].sort((a, b) => a - b);
};
horizons.show = (v) => (v as number[]).map(formatDuration).join(',');

const model: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || !/^[\w.:/@-]{1,200}$/.test(v)) throw new ConfigError(field, 'a model name such as gpt-4o-mini', v);
  return v;
};

const filePath: Parse<string> = (v, field) => {
  if (typeof v !== 'string' || !/^[\w./~ @+-]+$/.test(v)) throw new ConfigError(field, 'a file path (letters, digits and . / ~ _ - @ +)', v);
  return v;
};

export const DECIDE = section<DecideConfig>({
  strategy: leaf(oneOf(STRATEGIES), 'rules', { cli: { flag: 'strategy', value: 'NAME', help: `decision strategy: ${STRATEGIES.join(', ')} (default {default})` } }),
  seed: leaf(int(0, 2 ** 31 - 1), 1, { cli: { flag: 'strategy-seed', value: 'N', help: 'seed of the random strategy (default {default})' } }),
  horizonsMs: leaf(horizons, [15 * 60_000, 3_600_000, 4 * 3_600_000], { file: 'horizons' }),
  hitThreshold: leaf(num(0, 0.5), 0.001),
  scoreIntervalMs: leaf(duration(1_000, 3_600_000), 30_000, { file: 'scoreInterval' }),
  llm: section<LlmSettings>({
    baseUrl: leaf(url(['http:', 'https:']), 'https://api.openai.com/v1', { cli: { flag: 'llm-url', value: 'URL', help: 'llm strategy: base URL of an OpenAI-compatible API (default {default})' } }),
    model: leaf(model, 'gpt-4o-mini', { cli: { flag: 'llm-model', value: 'NAME', help: 'llm strategy: model name (default {default})' } }),
    apiKeyFile: leaf(nullable(filePath), null, { cli: { flag: 'llm-api-key-file', value: 'FILE', help: 'llm strategy: file holding the API key (or env CANDLESTACK_LLM_API_KEY)' } }),
    timeoutMs: leaf(duration(100, 120_000), 5_000, { file: 'timeout' }),
  }),
});
