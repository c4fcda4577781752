/** The inbox table as the chaos checks read it: what the acks should have emptied, and what each leftover is. */
import { paginateScan } from '@aws-sdk/client-dynamodb';
import { limits } from '#shared/config/limits';
import { createLocalDynamoDbClient } from '../local/aws-local';
import type { LocalStack } from '../local/stack';
import type { ChaosDevice } from './device';

interface InboxItem {
  readonly deviceKey: string;
  readonly position: string;
  readonly expiresAt: number;
  /** A pointer's first seq owed (a conversation parked once per device); absent on a copy of one message. */
  readonly fromSeq?: number;
}

export interface InboxLeftover {
  readonly device: string;
  readonly conversationId: string;
  readonly seq: number;
  /** The device holds the message (the item is a stale copy). */
  readonly held: boolean;
  readonly deviceHighestSeq: number;
  readonly parkedSecondsAgo: number;
  readonly connectedSecondsAgo: number;
}

/** Every item of the inbox table, read directly (what the acks should have emptied). */
export async function inboxItems(stack: LocalStack): Promise<InboxItem[]> {
  const client = createLocalDynamoDbClient(stack.dynamoEndpoint);
  try {
    const items: InboxItem[] = [];
    const pages = paginateScan(
      { client },
      {
        TableName: stack.tables.inbox.tableName,
        ProjectionExpression: 'deviceKey, #position, expiresAt, fromSeq',
        ExpressionAttributeNames: { '#position': 'position' },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        items.push({
          deviceKey: item.deviceKey?.S ?? '',
          position: item.position?.S ?? '',
          expiresAt: Number(item.expiresAt?.N ?? 0),
          ...(item.fromSeq?.N === undefined ? {} : { fromSeq: Number(item.fromSeq.N) }),
        });
      }
    }
    return items;
  } finally {
    client.destroy();
  }
}

export function describeLeftovers(items: readonly InboxItem[], devices: readonly ChaosDevice[]): InboxLeftover[] {
  const retentionSeconds = limits.inboxRetentionDays * 24 * 60 * 60;
  return items.map((item) => {
    const device = devices.find((candidate) => `${candidate.userId}#${candidate.deviceId}` === item.deviceKey);
    const separator = item.position.lastIndexOf('#');
    const conversationId = item.position.slice(0, separator);
    const cached = device?.client.messages(conversationId) ?? [];
    // A pointer stands for its first seq owed: held, it is stale; lacked, a loss.
    const seq = item.fromSeq ?? Number(item.position.slice(separator + 1));
    return {
      device: device?.deviceId ?? item.deviceKey,
      conversationId,
      seq,
      held: cached.some((message) => message.seq === seq),
      deviceHighestSeq: cached.at(-1)?.seq ?? 0,
      parkedSecondsAgo: Math.round(Date.now() / 1000 - (item.expiresAt - retentionSeconds)),
      connectedSecondsAgo: Math.round((Date.now() - (device?.lastConnectedAt ?? 0)) / 1000),
    };
  });
}
