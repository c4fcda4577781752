/** Local tables come from the same specs CDK deploys: keys, indexes, streams, TTL, on-demand billing. */
import { randomUUID } from 'node:crypto';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type TableSpec, tableKeys, tables } from '#shared/config/tables';
import { createLocalDynamoDbClient } from '../../local/aws-local';
import { createLocalTables, type LocalTables } from '../../local/tables';

let client: DynamoDBClient;
let prefix: string;
let created: LocalTables;

const describeTable = async (tableName: string): Promise<TableDescription> => {
  const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  if (table === undefined) throw new Error(`${tableName} not found`);
  return table;
};

const keySchemaOf = (spec: Pick<TableSpec, 'partitionKey' | 'sortKey'>) => [
  { AttributeName: spec.partitionKey.name, KeyType: 'HASH' },
  ...(spec.sortKey === undefined ? [] : [{ AttributeName: spec.sortKey.name, KeyType: 'RANGE' }]),
];

beforeAll(async () => {
  client = createLocalDynamoDbClient(inject('dynamoEndpoint'));
  prefix = `tables-${randomUUID().slice(0, 8)}-`;
  created = await createLocalTables(client, prefix);
});

afterAll(() => client.destroy());

describe('createLocalTables', () => {
  it.each(tableKeys)('creates %s with its prefixed name, keys and on-demand billing', async (key) => {
    const spec: TableSpec = tables[key];
    const table = await describeTable(created[key].tableName);

    expect(created[key]).toMatchObject({ tableName: `${prefix}${spec.logicalName}`, createdNow: true });
    expect(table.KeySchema).toEqual(keySchemaOf(spec));
    expect(table.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it.each(tableKeys)('gives %s exactly the global indexes of its spec', async (key) => {
    const spec: TableSpec = tables[key];
    const table = await describeTable(created[key].tableName);

    const indexes = (table.GlobalSecondaryIndexes ?? []).map((index) => ({
      indexName: index.IndexName,
      keySchema: index.KeySchema,
      projection: index.Projection?.ProjectionType,
    }));
    expect(indexes).toEqual(
      (spec.globalIndexes ?? []).map((index) => ({
        indexName: index.indexName,
        keySchema: keySchemaOf(index),
        projection: index.projection,
      })),
    );
  });

  it.each(tableKeys)('gives %s the stream of its spec, and reports its ARN', async (key) => {
    const spec: TableSpec = tables[key];
    const table = await describeTable(created[key].tableName);

    if (spec.stream === undefined) {
      expect(table.StreamSpecification?.StreamEnabled ?? false).toBe(false);
      expect(created[key].streamArn).toBeUndefined();
    } else {
      expect(table.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: spec.stream });
      expect(created[key].streamArn).toBe(table.LatestStreamArn);
    }
  });

  it.each(tableKeys)('enables TTL on %s exactly when its spec names a TTL attribute', async (key) => {
    const spec: TableSpec = tables[key];
    const { TimeToLiveDescription: ttl } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: created[key].tableName }),
    );

    if (spec.ttlAttribute === undefined) expect(ttl?.TimeToLiveStatus).toBe('DISABLED');
    else expect(ttl).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: spec.ttlAttribute });
  });

  it('leaves existing tables as they are when run again (persisted data)', async () => {
    const again = await createLocalTables(client, prefix);

    for (const key of tableKeys) {
      expect(again[key]).toMatchObject({ tableName: created[key].tableName, createdNow: false });
      expect(again[key].streamArn).toBe(created[key].streamArn);
    }
  });
});
