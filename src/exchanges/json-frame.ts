/** Shared by the exchange mappers: reading a frame as a JSON object, with the rejection every mapper counts. */
import type { EventSink } from './adapter.js';

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The frame as a JSON object, or undefined after rejecting it: `invalid_json` when it is not JSON or not an
 * object. `arrays` names the reason for a JSON array instead (Kraken: v1 data frames are arrays, an unknown
 * event there rather than corruption).
 */
export function parseObjectFrame(frame: string, sink: EventSink, arrays: 'invalid_json' | 'unknown_event' = 'invalid_json'): Json | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(frame);
  } catch {
    sink.reject('invalid_json', 'frame is not JSON', frame);
    return undefined;
  }
  if (isObject(msg)) return msg;
  sink.reject(Array.isArray(msg) ? arrays : 'invalid_json', 'frame is not a JSON object', frame);
  return undefined;
}
