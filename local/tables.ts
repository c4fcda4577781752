import { setTimeout as sleep } from 'node:timers/promises';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  ResourceInUseException,
  type TableDescription,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { type KeyAttribute, type TableKey, type TableSpec, tableKeys, tables } from '#shared/config/tables';

export interface LocalTable {
  readonly key: TableKey;
  readonly spec: TableSpec;
  readonly tableName: string;
  /** False when the table was already there (persisted data, or a second stack on the same prefix). */
  readonly createdNow: boolean;
  readonly streamArn?: string;
}

export type LocalTables = Readonly<Record<TableKey, LocalTable>>;

/** CDK names tables itself; locally a prefix keeps stacks that share one DynamoDB Local apart. */
export function localTableName(prefix: string, spec: TableSpec): string {
  return `${prefix}${spec.logicalName}`;
}

/** Creates every table in `tables` (idempotent), with its indexes, stream and TTL. */
export async function createLocalTables(client: DynamoDBClient, prefix: string): Promise<LocalTables> {
  const created = await Promise.all(tableKeys.map((key) => createLocalTable(client, key, prefix)));
  return Object.fromEntries(created.map((table) => [table.key, table])) as Record<TableKey, LocalTable>;
}

async function createLocalTable(client: DynamoDBClient, key: TableKey, prefix: string): Promise<LocalTable> {
  const spec: TableSpec = tables[key];
  const tableName = localTableName(prefix, spec);
  let createdNow = true;
  try {
    await client.send(new CreateTableCommand(createTableInput(spec, tableName)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    createdNow = false;
  }
  const description = await waitUntilActive(client, tableName);
  if (spec.ttlAttribute !== undefined) await enableTimeToLive(client, tableName, spec.ttlAttribute);
  return {
    key,
    spec,
    tableName,
    createdNow,
    ...(description.LatestStreamArn === undefined ? {} : { streamArn: description.LatestStreamArn }),
  };
}

export function createTableInput(
  spec: TableSpec,
  tableName: string,
): ConstructorParameters<typeof CreateTableCommand>[0] {
  const globalIndexes = spec.globalIndexes ?? [];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: attributeDefinitions([
      spec.partitionKey,
      spec.sortKey,
      ...globalIndexes.flatMap((index) => [index.partitionKey, index.sortKey]),
    ]),
    KeySchema: keySchema(spec.partitionKey, spec.sortKey),
    ...(globalIndexes.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: globalIndexes.map(
            (index): GlobalSecondaryIndex => ({
              IndexName: index.indexName,
              KeySchema: keySchema(index.partitionKey, index.sortKey),
              Projection: {
                ProjectionType: index.projection,
                ...(index.include === undefined ? {} : { NonKeyAttributes: [...index.include] }),
              },
            }),
          ),
        }),
    ...(spec.stream === undefined ? {} : { StreamSpecification: { StreamEnabled: true, StreamViewType: spec.stream } }),
  };
}

function keySchema(partitionKey: KeyAttribute, sortKey: KeyAttribute | undefined): KeySchemaElement[] {
  return [
    { AttributeName: partitionKey.name, KeyType: 'HASH' },
    ...(sortKey === undefined ? [] : [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }]),
  ];
}

/** An attribute may key the table and an index; DynamoDB wants it defined once. */
function attributeDefinitions(keys: ReadonlyArray<KeyAttribute | undefined>): AttributeDefinition[] {
  const byName = new Map<string, AttributeDefinition>();
  for (const key of keys) {
    if (key !== undefined) byName.set(key.name, { AttributeName: key.name, AttributeType: key.type });
  }
  return [...byName.values()];
}

async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<TableDescription> {
  for (;;) {
    const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (table?.TableStatus === 'ACTIVE') return table;
    // DynamoDB Local creates tables synchronously; this only matters for a slow or remote endpoint.
    await sleep(50);
  }
}

async function enableTimeToLive(client: DynamoDBClient, tableName: string, attributeName: string): Promise<void> {
  const { TimeToLiveDescription: current } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  if (current?.TimeToLiveStatus === 'ENABLED' && current.AttributeName === attributeName) return;
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { Enabled: true, AttributeName: attributeName },
    }),
  );
}
