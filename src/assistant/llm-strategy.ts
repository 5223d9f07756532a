/**
 * The `llm` strategy: any OpenAI-compatible chat-completions API (`POST {baseUrl}/chat/completions`, the
 * seed's "GPT API"; OpenAI, Azure-compatible gateways, vLLM, Ollama, llama.cpp servers) at the configured base
 * URL and model. The prompt carries the market and its features; the answer must parse as one of BUY, SELL,
 * HOLD: a JSON object `{"action","confidence","reason"}` or text that starts with the action.
 *
 * Anything else falls back to the `rules` strategy, with the reason `llm_fallback: <why>` and the strategy
 * reported as `rules`, counted in candlestack_decision_llm_fallbacks_total{reason}: timeout, error (network),
 * circuit_open (the `decide_llm` breaker after repeated failures), status (a non-2xx answer), unparsable.
 * The call has the configured timeout; the API key (env CANDLESTACK_LLM_API_KEY or decide.llm.apiKeyFile) is
 * sent as a bearer token and never logged.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { HttpClient, HttpClientError } from '../api/http-client.js';
import type { CircuitBreaker } from '../core/circuit-breaker.js';
import type { LlmSettings } from '../config/decide-config.js';
import type { Logger } from '../telemetry/logger.js';
import type { Tracing } from '../telemetry/tracing.js';
import type { ApiMetrics, AssistantMetrics } from '../telemetry/metrics.js';
import { ACTIONS, type Action, type Strategy, type StrategyInput, type Verdict } from './strategy.js';

export const LLM_FALLBACK_REASONS = ['timeout', 'error', 'circuit_open', 'status', 'unparsable'] as const;
type FallbackReason = (typeof LLM_FALLBACK_REASONS)[number];

export const LLM_API_KEY_ENV = 'CANDLESTACK_LLM_API_KEY';

/** The API key: the file's content (trimmed) when `apiKeyFile` is set, else the environment variable; none is allowed (local servers). */
export function llmApiKey(settings: Pick<LlmSettings, 'apiKeyFile'>, env: NodeJS.ProcessEnv): string | undefined {
  if (settings.apiKeyFile) {
    try {
      const key = readFileSync(settings.apiKeyFile, 'utf8').trim();
      if (key === '') throw new Error('empty');
      return key;
    } catch (err) {
      throw new ConfigError('decide.llm.apiKeyFile', 'a readable file holding the API key', settings.apiKeyFile, { cause: err });
    }
  }
  const key = env[LLM_API_KEY_ENV];
  return key ? key.trim() : undefined;
}

const SYSTEM_PROMPT = `You are a cautious crypto trading assistant. Given one market's latest closed candle and its features
(log returns over 1/5/15 periods, realized volatility over 20, RSI 14, MACD histogram, Bollinger %b, ATR/close,
volume z-score, distance from session VWAP, taker-buy ratio, cross-exchange spread in bps; null = not available),
answer with one JSON object and nothing else: {"action":"BUY"|"SELL"|"HOLD","confidence":0..1,"reason":"one short sentence"}.`;

export interface LlmStrategyOptions {
  settings: LlmSettings;
  apiKey: string | undefined;
  fallback: Strategy;
  breaker: CircuitBreaker;
  metrics: { api: Pick<ApiMetrics, 'httpClientRequests' | 'httpClientRequestDuration'>; assistant: Pick<AssistantMetrics, 'llmFallbacks'> };
  log: Logger;
  tracing?: Tracing;
}

export class LlmStrategy implements Strategy {
  readonly name = 'llm';
  private readonly client: HttpClient;

  constructor(private readonly o: LlmStrategyOptions) {
    this.client = new HttpClient({
      target: 'llm',
      baseUrl: o.settings.baseUrl,
      timeoutMs: o.settings.timeoutMs,
      metrics: o.metrics.api,
      breaker: o.breaker,
      headers: o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {},
      ...(o.tracing ? { tracing: o.tracing } : {}),
    });
    for (const r of LLM_FALLBACK_REASONS) o.metrics.assistant.llmFallbacks.labels(r).inc(0);
  }

  async decide(input: StrategyInput): Promise<Verdict> {
    let why: FallbackReason;
    try {
      const res = await this.client.post('/chat/completions', {
        model: this.o.settings.model,
        temperature: 0,
        max_tokens: 200,
        messages: [
          { role: 'system', content: SYSTEM_PROMPT },
          { role: 'user', content: JSON.stringify({ exchange: input.exchange, symbol: input.symbol, timeframe: input.timeframe, price: input.price, candleOpenTime: new Date(input.openTime).toISOString(), features: input.features }) },
        ],
      });
      if (res.status >= 200 && res.status < 300) {
        const verdict = parseAnswer(res.body);
        if (verdict) return verdict;
        why = 'unparsable';
      } else why = 'status';
      this.o.log.warn({ component: 'llm', status: res.status, reason: why }, `llm answer unusable (${why}); falling back to rules`);
    } catch (err) {
      why = err instanceof HttpClientError ? (err.failure === 'circuit_open' ? 'circuit_open' : err.failure === 'timeout' ? 'timeout' : 'error') : 'error';
      this.o.log.warn({ component: 'llm', reason: why, error: err instanceof Error ? err.message : String(err) }, `llm call failed (${why}); falling back to rules`);
    }
    this.o.metrics.assistant.llmFallbacks.labels(why).inc();
    const v = await this.o.fallback.decide(input);
    return { ...v, strategy: 'rules', reasons: [`llm_fallback: ${why}`, ...v.reasons] };
  }
}

/** The action out of a chat-completions body: a JSON object in the message, or text starting with the action. */
export function parseAnswer(body: unknown): Verdict | null {
  const content = (body as { choices?: { message?: { content?: unknown } }[] } | null)?.choices?.[0]?.message?.content;
  if (typeof content !== 'string') return null;
  const text = content.trim().replace(/^```(?:json)?\s*|\s*```$/g, '');
  try {
    const o = JSON.parse(text) as { action?: unknown; confidence?: unknown; reason?: unknown };
    const action = typeof o.action === 'string' ? o.action.trim().toUpperCase() : '';
    if (!(ACTIONS as readonly string[]).includes(action)) return null;
    const confidence = typeof o.confidence === 'number' && o.confidence >= 0 && o.confidence <= 1 ? o.confidence : 0.5;
    const reason = typeof o.reason === 'string' && o.reason.trim() !== '' ? o.reason.trim().slice(0, 300) : 'no reason given';
    return { action: action as Action, confidence, reasons: [`llm: ${reason}`] };
  } catch {
    const m = /^(BUY|SELL|HOLD)\b[\s.:,-]*(.*)$/is.exec(text);
    if (!m) return null;
    const reason = m[2]!.trim().split('\n')[0]!.slice(0, 300);
    return { action: m[1]!.toUpperCase() as Action, confidence: 0.5, reasons: [`llm: ${reason || 'no reason given'}`] };
  }
}
