/**
 * The frames the fault suite mutates, per exchange: the documented examples of each exchange's current protocol
 * (compacted copies of the examples quoted in test/<exchange>-mapper.test.ts, from the exchanges' API pages) and
 * the recorded sessions committed under test/fixtures/ (see each PROVENANCE.md). Under CI, the workspace's raw
 * captures (../shared/data/exchange-captures, when present) add more recorded frames: optional, never required.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExchangeId } from '../../src/core/exchange-id.js';
import { captureFrames } from '../support/exchange-fixtures.js';
import { fixtureFiles, fixtureLines } from '../support/fixtures.js';

export const DOCUMENTED: Record<ExchangeId, readonly string[]> = {
  binance: [
    '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}',
    '{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,"m":true,"M":true}',
    '{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}',
    '{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}',
    '{"result":null,"id":1}',
    '{"code":2,"msg":"Invalid request: unknown variant"}',
    '{"event":{"e":"serverShutdown","E":1672515782136}}',
  ],
  bybit: [
    '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false}]}',
    '{"topic":"publicTrade.BTCUSDT","ts":1789875217841,"type":"snapshot","data":[{"T":1789875217840,"s":"BTCUSDT","S":"Sell","v":"0.06","p":"80413.3","i":"2290000001211680903","BT":false},{"T":1789875217840,"s":"BTCUSDT","S":"Buy","v":"0.004904","p":"80413.4","i":"2290000001211680919","BT":false}]}',
    '{"topic":"kline.5.BTCUSDT","data":[{"start":1672324800000,"end":1672325099999,"interval":"5","open":"16649.5","close":"16677","high":"16677","low":"16608","volume":"2.081","turnover":"34666.4005","confirm":false,"timestamp":1672324988882}],"ts":1672324988882,"type":"snapshot"}',
    '{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}',
    '{"success":false,"ret_msg":"args size >10","conn_id":"c","req_id":"1","op":"subscribe"}',
  ],
  coinbase: [
    '{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66-ca53-498f-9c13-a110027a60e8","taker_order_id":"132fb6ae-456b-4654-b4e0-d681ac05cea1","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}',
    '{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}',
    '{"type":"subscriptions","channels":[{"name":"level2","product_ids":["ETH-USD","ETH-EUR"]}]}',
    '{"type":"error","message":"error message"}',
  ],
  kraken: [
    '{"channel":"trade","type":"snapshot","data":[{"symbol":"MATIC/USD","side":"buy","price":0.5147,"qty":6423.46326,"ord_type":"limit","trade_id":4665846,"timestamp":"2023-09-25T07:48:36.925533Z"},{"symbol":"MATIC/USD","side":"buy","price":0.5147,"qty":1136.19677815,"ord_type":"limit","trade_id":4665847,"timestamp":"2023-09-25T07:49:36.925603Z"}]}',
    '{"channel":"ohlc","type":"snapshot","timestamp":"2023-10-04T16:26:01.806315597Z","data":[{"symbol":"ALGO/USD","open":0.09875,"high":0.09875,"low":0.09875,"close":0.09875,"trades":1,"volume":201.86015,"vwap":0.09875,"interval_begin":"2023-10-04T15:25:00.000000000Z","interval":5,"timestamp":"2023-10-04T15:30:00.000000Z"}]}',
    '{"channel":"heartbeat"}',
    '{"method":"subscribe","result":{"channel":"trade","snapshot":false,"symbol":"BTC/USD"},"success":true,"time_in":"2018-11-12T21:14:59.545897Z","time_out":"2018-11-12T21:14:59.545901Z"}',
    '{"error":"Currency pair not supported XBT/USD","method":"subscribe","success":false,"symbol":"XBT/USD"}',
  ],
  okx: [
    '{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","source":"0","ts":"1630048897897"}]}',
    '{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3","source":"0","seqId":1234}]}',
    '{"arg":{"channel":"candle1Dutc","instId":"BTC-USDT"},"data":[["1597026383085","8533.02","8553.74","8527.17","8548.26","45247","529.5858061","5529.5858061","0"]]}',
    '{"id":"1512","event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"a4d3ae55"}',
    '{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}',
    'pong',
  ],
};

/** Recorded frames committed under test/fixtures/<exchange>/ (server frames only). */
export function recordedFrames(exchange: ExchangeId): string[] {
  const out: string[] = [];
  for (const file of fixtureFiles(exchange, '.jsonl')) out.push(...fixtureLines(exchange, file));
  for (const file of fixtureFiles(exchange, '.txt')) out.push(...captureFrames(exchange, file).map((f) => f.frame));
  return out;
}

const CAPTURES: Record<ExchangeId, string[]> = {
  binance: ['BINANCE.ws.1.0.txt'],
  bybit: ['BYBIT.ws.25.0.txt'],
  coinbase: ['COINBASE.ws.28.0.txt'],
  kraken: ['KRAKEN.ws.48.0.txt', 'KRAKEN.ws.49.0.txt'],
  okx: ['OKX.ws.1.0.txt'],
};

/**
 * Under CI only: up to `max` server frames of the workspace's raw captures for `exchange`, when the directory is
 * there (an optional extra; the committed fixtures are the suite's own seeds).
 */
export function sharedCaptureFrames(exchange: ExchangeId, max = 500): string[] {
  if (process.env.CI !== 'true') return [];
  const dirs = [join(process.cwd(), '..', 'shared', 'data', 'exchange-captures')];
  const dir = dirs.find((d) => existsSync(d));
  if (!dir) return [];
  const out: string[] = [];
  for (const name of CAPTURES[exchange]) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (out.length >= max) return out;
      const at = line.indexOf(': ');
      if (at > 0 && /^\d+(\.\d+)?$/.test(line.slice(0, at))) out.push(line.slice(at + 2));
    }
  }
  return out;
}
