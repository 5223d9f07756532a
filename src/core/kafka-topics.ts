/** The Kafka topics the bus uses, by role; names are configurable (`kafka.topics`). */
export interface KafkaTopicNames {
  trade: string;
  kline: string;
  candle: string;
  gap: string;
  indicator: string;
  feature: string;
}

export const DEFAULT_KAFKA_TOPICS: KafkaTopicNames = {
  trade: 'candlestack_trades',
  kline: 'binance_kline',
  candle: 'candlestack_candles',
  gap: 'candlestack_gaps',
  indicator: 'candlestack_indicators',
  feature: 'candlestack_features',
};
