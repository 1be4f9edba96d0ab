// The connectors and paid features a simulated fleet uses, with how common each is.
type Weights = Readonly<Record<string, number>>;
/** Connector → weight, and its FORMAT/ENCODE pairs by weight. */
export const SOURCES: Record<string, [number, Weights]> = {
  kafka: [
    40,
    {
      'plain/json': 40,
      'upsert/json': 15,
      'plain/avro': 15,
      'plain/protobuf': 10,
      'debezium/json': 10,
      'upsert/avro': 10,
    },
  ],
  'postgres-cdc': [20, { 'debezium/json': 1 }],
  'mysql-cdc': [12, { 'debezium/json': 1 }],
  datagen: [8, { 'native/native': 1 }],
  kinesis: [5, { 'plain/json': 3, 'plain/avro': 1 }],
  s3: [5, { 'plain/csv': 2, 'plain/json': 2, 'plain/parquet': 1 }],
  pulsar: [4, { 'plain/json': 2, 'plain/avro': 1 }],
  'mongodb-cdc': [3, { 'debezium_mongo/json': 1 }],
  'sqlserver-cdc': [2, { 'debezium/json': 1 }],
  nats: [1, { 'plain/json': 1 }],
};
export const SINKS: Record<string, [number, Weights]> = {
  iceberg: [22, { 'upsert/parquet': 3, 'plain/parquet': 2 }],
  kafka: [16, { 'plain/json': 3, 'upsert/json': 2, 'debezium/json': 1, 'upsert/avro': 1 }],
  clickhouse: [14, { 'plain/json': 1, 'upsert/json': 1 }],
  jdbc: [14, { 'upsert/json': 1 }],
  elasticsearch: [6, { 'upsert/json': 1 }],
  s3: [6, { 'plain/parquet': 2, 'plain/json': 1 }],
  starrocks: [5, { 'upsert/json': 1 }],
  snowflake: [5, { 'plain/json': 1 }],
  doris: [4, { 'upsert/json': 1 }],
  deltalake: [3, { 'plain/parquet': 1 }],
  redis: [3, { 'upsert/template': 1 }],
  postgres: [2, { 'upsert/json': 1 }],
};
export const PAID_FEATURES = [
  'TimeTravel',
  'SecretManagement',
  'CdcTableSchemaMap',
  'SqlServerCdcSource',
  'IcebergCompaction',
];

function weightsOf(table: Record<string, [number, Weights]>): Weights {
  return Object.fromEntries(Object.entries(table).map(([name, [w]]) => [name, w]));
}
export const SOURCE_WEIGHTS = weightsOf(SOURCES);
export const SINK_WEIGHTS = weightsOf(SINKS);
