/**
 * Integration-test fixture: the `--aws-faults` DynamoDB proxy (local/dynamodb-faults.ts) in front of the
 * run's shared DynamoDB Local, and a document client through it, so a repository meets the answers AWS
 * gives and DynamoDB Local never does (a write to an item of an in-flight transaction, above all).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { createDocumentClient } from '#shared/aws/dynamodb';
import { type TableKey, tableKeys } from '#shared/config/tables';
import { localCredentials, localRegion } from '../../local/aws-local';
import { startDynamoDbFaultProxy } from '../../local/dynamodb-faults';
import { createFaultInjector, type FaultInjector, type FaultSettings } from '../../local/faults';
import { createLocalLogger } from '../../local/log';

export interface FaultProxy {
  readonly injector: FaultInjector;
  /** A document client whose every call goes through the proxy. */
  readonly documentClient: DynamoDBDocumentClient;
  /** Resolves once a transaction through the proxy holds its items. */
  transactionInFlight(): Promise<void>;
  /** Transactions through the proxy hold their items until `released` settles. */
  holdTransactionsUntil(released: Promise<void>): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(
  tableName: (table: TableKey) => string,
  settings: Partial<FaultSettings> = {},
): Promise<FaultProxy> {
  const injector = createFaultInjector(settings);
  const proxy = await startDynamoDbFaultProxy({
    upstream: inject('dynamoEndpoint'),
    tableNames: Object.fromEntries(tableKeys.map((key) => [key, tableName(key)])) as Record<TableKey, string>,
    injector,
    logger: createLocalLogger('SILENT'),
  });
  const client = new DynamoDBClient({ endpoint: proxy.endpoint, region: localRegion, credentials: localCredentials });
  return {
    injector,
    documentClient: createDocumentClient(client),
    async transactionInFlight() {
      while (proxy.heldItems() === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    },
    holdTransactionsUntil: (released) => proxy.holdTransactionsUntil(released),
    async stop() {
      client.destroy();
      await proxy.stop();
    },
  };
}
