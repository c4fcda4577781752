import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoDbCallRecord, setCapacityRecorder } from '#shared/aws/capacity-meter';
import { epochSeconds } from '#shared/clock';
import { limits } from '#shared/config/limits';
import { billedAsAws, CapacityTally } from '../../bench/capacity-tally';
import { fixedClock, RecordingPoster, type TestTables, uniqueNames, useTestTables } from '../support/test-tables';

let db: TestTables;
const names = uniqueNames('cm');

beforeAll(async () => {
  db = await useTestTables('capacity');
});

afterEach(() => {
  setCapacityRecorder(undefined);
});

/** The calls made on this file's tables while `work` runs. */
async function recorded(work: () => Promise<unknown>): Promise<DynamoDbCallRecord[]> {
  const calls: DynamoDbCallRecord[] = [];
  const ours = new Set(['conversations', 'messages', 'idempotency'].map((t) => db.tableName(t as 'messages')));
  setCapacityRecorder((call) => {
    if (call.tables.some((t) => ours.has(t.table))) calls.push(call);
  });
  await work();
  setCapacityRecorder(undefined);
  return calls;
}

describe('the capacity meter against DynamoDB Local', () => {
  it("reads reach items at half a unit for the fast path's best-effort read and a unit for fan-out's", async () => {
    const users = names('r1', 'r2', 'r3', 'r4');
    const now = epochSeconds(fixedClock.now());
    for (const userId of users) {
      await db.repositories.connections.put(
        { userId, deviceId: 'phone', connectionId: `${userId}-phone` },
        fixedClock.now().toISOString(),
        now + limits.connectionTtlSeconds,
      );
    }
    const readUnitsOf = async (read: () => Promise<unknown>) => {
      const calls: DynamoDbCallRecord[] = [];
      setCapacityRecorder((call) => {
        if (call.tables.some((t) => t.table === db.tableName('users'))) calls.push(call);
      });
      await read();
      setCapacityRecorder(undefined);
      return calls.reduce((sum, call) => sum + call.readUnits, 0);
    };

    const live = await readUnitsOf(() => db.repositories.connections.readLiveReach(users, now));
    const strong = await readUnitsOf(() => db.repositories.connections.readReach(users, now));

    expect(strong).toBe(users.length);
    expect(live).toBe(users.length / 2);
  });

  it('reports the items of each table of a send transaction, and the tally bills each 2 WRU as AWS does', async () => {
    const [ann, ben] = names('ann', 'ben');
    const { conversation } = await db.services.conversations.create({
      creatorId: ann,
      type: 'group',
      memberIds: [ben],
    });

    const calls = await recorded(() =>
      db.services.messaging.send({ senderId: ann, conversationId: conversation.id, clientMessageId: 'c1', text: 'hi' }),
    );

    const transaction = calls.find((call) => call.operation === 'TransactWriteItems' && !call.failed);
    expect(transaction).toBeDefined();
    const items = Object.fromEntries((transaction?.tables ?? []).map((t) => [t.table, t.transactItems]));
    // The meta item and the sender's member row; the message; the idempotency claim.
    expect(items).toEqual({
      [db.tableName('conversations')]: 2,
      [db.tableName('messages')]: 1,
      [db.tableName('idempotency')]: 1,
    });
    const billed = billedAsAws(transaction as DynamoDbCallRecord);
    for (const table of billed.tables)
      expect(table.baseTableUnits).toBeGreaterThanOrEqual(2 * (table.transactItems ?? 0));
    // DynamoDB Local reports the two conversation items as one item's 2 WRU: the tally adds the other's.
    expect(billed.writeUnits).toBeGreaterThanOrEqual(8);
    expect(billed.writeUnits).toBeGreaterThan((transaction as DynamoDbCallRecord).writeUnits);

    const tally = new CapacityTally();
    for (const call of calls) tally.record(call);
    expect(tally.snapshot().total.transactionWriteUnitsAdded).toBe(
      billed.writeUnits - (transaction as DynamoDbCallRecord).writeUnits,
    );
  });

  it("writes one conversations item for a direct chat's uncontended send: the meta item keeps the last send", async () => {
    const [ann, ben] = names('ann', 'ben');
    const { conversation } = await db.services.conversations.create({
      creatorId: ann,
      type: 'direct',
      memberIds: [ben],
    });
    const messaging = db.services.messagingWithDirectDelivery(new RecordingPoster());

    const calls = await recorded(() =>
      messaging.send({ senderId: ann, conversationId: conversation.id, clientMessageId: 'c1', text: 'hi' }),
    );

    const transaction = calls.find((call) => call.operation === 'TransactWriteItems' && !call.failed);
    const items = Object.fromEntries((transaction?.tables ?? []).map((t) => [t.table, t.transactItems]));
    expect(items).toEqual({
      [db.tableName('conversations')]: 1,
      [db.tableName('messages')]: 1,
      [db.tableName('idempotency')]: 1,
    });
    expect(billedAsAws(transaction as DynamoDbCallRecord).writeUnits).toBe(6);
  });

  it('leaves calls other than successful transactions as DynamoDB reported them', async () => {
    const [ann, ben] = names('ann', 'ben');
    const { conversation } = await db.services.conversations.create({
      creatorId: ann,
      type: 'group',
      memberIds: [ben],
    });

    const calls = await recorded(() => db.services.conversations.get(conversation.id, ann));

    expect(calls.map((call) => call.operation)).toContain('Query');
    for (const call of calls) {
      expect(billedAsAws(call)).toBe(call);
      for (const table of call.tables) expect(table.transactItems).toBeUndefined();
    }
  });
});
