/** The simulated protocol of every exchange except Binance (which has SimulatedBinance), by exchange id. */
import type { VenueProtocol } from './venue.js';
import { coinbaseProtocol } from './coinbase.js';
import { krakenProtocol } from './kraken.js';
import { bybitProtocol } from './bybit.js';
import { okxProtocol } from './okx.js';

export const VENUE_PROTOCOLS: Readonly<Record<string, () => VenueProtocol>> = {
  coinbase: () => coinbaseProtocol(),
  kraken: () => krakenProtocol(),
  bybit: () => bybitProtocol(),
  okx: () => okxProtocol(),
};
