/**
 * Semantic-convention attribute names still "incubating" in @opentelemetry/semantic-conventions (messaging,
 * database batch, job runs), copied here as that package advises instead of importing its unstable entry point.
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_DESTINATION_PARTITION_ID = 'messaging.destination.partition.id';
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
export const ATTR_MESSAGING_CLIENT_ID = 'messaging.client.id';
export const ATTR_MESSAGING_KAFKA_OFFSET = 'messaging.kafka.offset';

/** The URL's path with its variable parts as placeholders (`/bot{token}/sendMessage`). */
export const ATTR_URL_TEMPLATE = 'url.template';

export const ATTR_DB_SYSTEM_NAME = 'db.system.name';
export const ATTR_DB_COLLECTION_NAME = 'db.collection.name';
export const ATTR_DB_OPERATION_NAME = 'db.operation.name';
export const ATTR_DB_OPERATION_BATCH_SIZE = 'db.operation.batch.size';

/** The store kinds as db.system.name values. */
export const dbSystemName = (storeKind: string): string => (storeKind === 'postgres' ? 'postgresql' : storeKind);
