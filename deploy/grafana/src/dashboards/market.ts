/** 1. Market: candlesticks, volume and the spread between exchanges, from candlestack's closed candles. */
import { above, informational, vars, type DashboardSpec } from '../builder.js';

const S = 'exchange="$exchange",symbol="$symbol",timeframe="$timeframe"';
const price = `candlestack_candle_close_price{${S}}`;

export const market: DashboardSpec = {
  uid: 'candlestack-market',
  title: 'candlestack / Market',
  description: 'Prices and volumes of the closed candles candlestack builds, per exchange, symbol and timeframe.',
  tags: ['market'],
  variables: [vars.exchange(false), vars.symbol(false), vars.timeframe(false)],
  rows: [
    {
      title: 'Price',
      panels: [
        {
          title: '$symbol on $exchange ($timeframe candles)',
          description:
            'Built from the close of each closed candle as Prometheus scraped it: open is the previous close, high/low the extremes of the closes in the bar. The exact OHLCV candles are served by GET /api/candles.',
          type: 'candlestick',
          unit: 'short',
          thresholds: informational,
          w: 24,
          h: 12,
          interval: '1m',
          targets: [
            { expr: `last_over_time(${price}[$__interval] offset $__interval)`, legend: 'open' },
            { expr: `max_over_time(${price}[$__interval])`, legend: 'high' },
            { expr: `min_over_time(${price}[$__interval])`, legend: 'low' },
            { expr: `last_over_time(${price}[$__interval])`, legend: 'close' },
            { expr: `last_over_time(candlestack_candle_volume{${S}}[$__interval])`, legend: 'volume' },
          ],
        },
        {
          title: 'Last close',
          description: 'Close price of the last closed candle.',
          type: 'stat',
          unit: 'short',
          thresholds: informational,
          targets: [{ expr: price, legend: '{{symbol}}' }],
        },
        {
          title: 'Trades per second',
          description: 'Trades received for the symbol (1 min rate).',
          type: 'stat',
          unit: 'ops',
          thresholds: informational,
          targets: [{ expr: 'exchange_symbol:candlestack_trades_received:rate1m{exchange="$exchange",symbol="$symbol"}', legend: '{{symbol}}' }],
        },
        {
          title: 'Last trade age',
          description: 'Time since the exchange timestamp of the last trade: orange after 30 s (the stale limit), red after 60 s (FeedStale).',
          type: 'stat',
          unit: 's',
          thresholds: above(30, 60),
          targets: [{ expr: 'exchange_symbol:candlestack_last_trade_age:seconds{exchange="$exchange",symbol="$symbol"}', legend: '{{symbol}}' }],
        },
      ],
    },
    {
      title: 'Volume',
      panels: [
        {
          title: 'Volume of the last closed candle',
          description: 'Base-asset volume of each closed $timeframe candle.',
          unit: 'short',
          thresholds: informational,
          bars: true,
          w: 12,
          targets: [{ expr: `candlestack_candle_volume{${S}}`, legend: '{{symbol}} {{timeframe}}' }],
        },
        {
          title: 'Trades per second by exchange',
          description: 'Trades received for $symbol on every exchange (1 min rate).',
          unit: 'ops',
          thresholds: informational,
          w: 12,
          targets: [{ expr: 'exchange_symbol:candlestack_trades_received:rate1m{symbol="$symbol"}', legend: '{{exchange}}' }],
        },
      ],
    },
    {
      title: 'Across exchanges',
      panels: [
        {
          title: 'Close price by exchange',
          description: 'The same symbol on every exchange candlestack collects.',
          unit: 'short',
          thresholds: informational,
          targets: [{ expr: 'candlestack_candle_close_price{symbol="$symbol",timeframe="$timeframe"}', legend: '{{exchange}}' }],
        },
        {
          title: 'Cross-exchange spread',
          description: 'Spread of the last trade prices of $symbol across the exchanges watching it, (highest - lowest) / median: orange from 10 bps, red from 50 bps (an arbitrage-sized gap, or one feed lagging). Empty with fewer than two exchanges.',
          unit: 'percentunit',
          thresholds: above(0.001, 0.005),
          targets: [{ expr: 'candlestack_cross_exchange_spread_bps{symbol="$symbol"} / 10000', legend: '{{symbol}} spread' }],
        },
        {
          title: 'Exchanges quoting $symbol',
          description: 'How many exchanges the spread is computed over.',
          type: 'stat',
          unit: 'short',
          thresholds: informational,
          targets: [{ expr: 'count by (symbol) (candlestack_candle_close_price{symbol="$symbol",timeframe="$timeframe"})', legend: '{{symbol}}' }],
        },
      ],
    },
  ],
};
