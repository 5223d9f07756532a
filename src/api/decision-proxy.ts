/**
 * `serve`'s answer for the decision routes when a decision service is configured (`http.decisionUrl`): GET
 * /api/decision and /api/decisions are asked of that `decide` (or run) instance with the same query, and its
 * answer (status and JSON body, e.g. a 400 naming a parameter or a 404 for an unknown market) is passed on as
 * it is. So the web dashboard's assistant panel works in the split stack too, on the address users open.
 * No answer (timeout, refused, the breaker open, a 5xx, a body that is not JSON) is a 503 JSON
 * `decision_unavailable` with the reason, never a hang.
 */
import type { ServerResponse } from 'node:http';
import { HttpClientError, type HttpClient } from './http-client.js';
import { sendError, sendJson } from './http.js';

export const DECISION_ROUTES = ['/api/decision', '/api/decisions'] as const;

export function decisionProxyRoutes(client: HttpClient): Record<(typeof DECISION_ROUTES)[number], (url: URL, res: ServerResponse) => Promise<void>> {
  const forward = async (url: URL, res: ServerResponse): Promise<void> => {
    try {
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      const r = await client.get(url.pathname, { query });
      if (r.status >= 500 || r.body === null) {
        sendError(res, 503, 'decision_unavailable', `the decision service (${client.target}) answered ${r.status}${r.body === null ? ' without a JSON body' : ''}`);
        return;
      }
      sendJson(res, r.status, r.body);
    } catch (err) {
      const why = err instanceof HttpClientError ? err.message : String(err);
      sendError(res, 503, 'decision_unavailable', `the decision service did not answer: ${why}`);
    }
  };
  return { '/api/decision': forward, '/api/decisions': forward };
}
