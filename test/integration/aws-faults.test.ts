/**
 * What the `--aws-faults` layer showed, each reproduced against DynamoDB Local through the fault proxy
 * (a write to an item an in-flight transaction holds is refused, as on AWS).
 */
import { randomUUID } from 'node:crypto';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversationKeys } from '#shared/keys';
import { InboxRepository } from '#shared/repositories/inbox-repository';
import { ReceiptRepository } from '#shared/repositories/receipt-repository';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { useTestTables } from '../support/test-tables';

let tables: Awaited<ReturnType<typeof useTestTables>>;
let proxy: FaultProxy;

beforeAll(async () => {
  tables = await useTestTables('aws-faults');
  // Long enough that asking again at once always meets the same transaction.
  proxy = await startFaultProxy(tables.tableName, { transactionHoldMs: 40 });
});

afterAll(async () => {
  await proxy?.stop();
});

/** A member row, and a transaction through the proxy that holds it for a while (a send moving lastSentSeq). */
async function memberRowHeldByATransaction(
  conversationId: string,
  userId: string,
): Promise<{ readonly done: Promise<unknown> }> {
  const key = conversationKeys.member(conversationId, userId);
  const table = tables.tableName('conversations');
  await tables.documentClient.send(
    new PutCommand({ TableName: table, Item: { ...key, entity: 'member', memberUserId: userId, role: 'member' } }),
  );
  const transaction = proxy.documentClient.send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: table,
            Key: key,
            UpdateExpression: 'SET lastSentSeq = :seq',
            ExpressionAttributeValues: { ':seq': 5 },
          },
        },
      ],
    }),
  );
  await proxy.transactionInFlight();
  // Wrapped: an async function returning the promise itself would wait for it.
  return { done: transaction };
}

describe('a delivered or read mark meeting an in-flight transaction on the member row', () => {
  it('is moved once that transaction is done, not answered internal', async () => {
    const conversationId = randomUUID();
    let release = () => {};
    proxy.holdTransactionsUntil(new Promise<void>((resolve) => (release = resolve)));
    const held = await memberRowHeldByATransaction(conversationId, 'u1');
    const receipts = new ReceiptRepository(
      proxy.documentClient,
      tables.tableName('conversations'),
      tables.tableName('receipts'),
    );

    const acknowledged = receipts.acknowledge(
      conversationId,
      'u1',
      'delivered',
      { delivered: 0, read: 0 },
      5,
      new Date().toISOString(),
    );
    // The transaction lets go only after the mark's write met it.
    await expect
      .poll(() => proxy.injector.counts.transactionConflict, { timeout: 15_000, interval: 5 })
      .toBeGreaterThan(0);
    release();
    const advances = await acknowledged;

    expect(advances).toMatchObject([{ kind: 'delivered', fromSeq: 0, toSeq: 5 }]);
    await held.done;
  });
});

describe("an inbox ack meeting a send's transaction on the conversation's meta item", () => {
  it('removes the pointer once that transaction is done, not move it past the last seq', async () => {
    const conversationId = randomUUID();
    const device = { userId: 'u1', deviceId: 'phone' };
    const conversations = tables.tableName('conversations');
    const metaKey = conversationKeys.meta(conversationId);
    await tables.documentClient.send(
      new PutCommand({ TableName: conversations, Item: { ...metaKey, conversationId, lastSeq: 5 } }),
    );
    const inbox = new InboxRepository(proxy.documentClient, { inbox: tables.tableName('inbox'), conversations }, 3600);
    await inbox.park({ conversationId, seq: 3 }, [device], Math.floor(Date.now() / 1000));
    let release = () => {};
    proxy.holdTransactionsUntil(new Promise<void>((resolve) => (release = resolve)));
    const held = proxy.documentClient.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: conversations,
              Key: metaKey,
              UpdateExpression: 'SET touchedBy = :send',
              ExpressionAttributeValues: { ':send': 'a send' },
            },
          },
        ],
      }),
    );
    await proxy.transactionInFlight();
    const conflictsBefore = proxy.injector.counts.transactionCancelledByConflict;

    const acked = inbox.removeUpTo(device, conversationId, 5);
    await expect
      .poll(() => proxy.injector.counts.transactionCancelledByConflict, { timeout: 15_000, interval: 5 })
      .toBeGreaterThan(conflictsBefore);
    release();

    expect(await acked).toEqual({ copies: 0, pointer: 'removed' });
    expect(await tables.inboxItems(device)).toEqual([]);
    await held;
  });
});
