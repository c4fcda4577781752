/** What the bench checks in the tables directly: connection rows for live sockets, offline devices' inboxes. */
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { tables } from '#shared/config/tables';
import { inboxKeys } from '#shared/keys';
import { queryAll } from '#shared/repositories/query-all';
import { createLocalDynamoDbClient } from '../local/aws-local';
import type { GroupLedger } from './driver-protocol';
import type { PhaseContext } from './phases';
import type { BenchRig } from './rig';

export type InboxCheck = Awaited<ReturnType<typeof checkInboxes>>;

/**
 * Every live connection should have its row: fan-out finds devices through them. The sparse
 * `byConnectionId` index of the users table holds connection rows only.
 */
export async function checkConnectionRows(rig: BenchRig) {
  const { dynamo, stack } = rig;
  const client = DynamoDBDocumentClient.from(createLocalDynamoDbClient(dynamo.endpoint));
  const rows = new Set<string>();
  const pages = paginateScan(
    { client },
    {
      TableName: stack.tables.users.tableName,
      IndexName: tables.users.globalIndexes[0].indexName,
      ProjectionExpression: 'connectionId',
    },
  );
  for await (const page of pages) for (const item of page.Items ?? []) rows.add(String(item.connectionId));
  client.destroy();
  const live = stack.connectionIds();
  return { live: live.length, rows: rows.size, liveWithoutRow: live.filter((id) => !rows.has(id)).length };
}

/** Every group message accepted should sit in the inbox of each offline member's device. */
export async function checkOfflineInboxes(context: PhaseContext): Promise<InboxCheck> {
  const { rig, log } = context;
  log('checking offline devices inboxes');
  const inboxes = await checkInboxes(rig, await rig.driver.call<GroupLedger>({ kind: 'groupLedger' }));
  log(`offline inboxes: ${inboxes.devices} devices, ${inboxes.missing} missing, ${inboxes.unexpected} unexpected`);
  return inboxes;
}

async function checkInboxes(rig: BenchRig, ledger: GroupLedger) {
  const { dynamo, stack } = rig;
  const client = DynamoDBDocumentClient.from(createLocalDynamoDbClient(dynamo.endpoint));
  const limit = pLimit(16);
  let devices = 0;
  let expected = 0;
  let missing = 0;
  let unexpected = 0;
  await Promise.all(
    ledger.groups.flatMap((group) =>
      group.offlineDevices.map((device) =>
        limit(async () => {
          const prefix = `${group.conversationId}#`;
          const items = await queryAll(client, {
            TableName: stack.tables.inbox.tableName,
            KeyConditionExpression: 'deviceKey = :d AND begins_with(#p, :c)',
            ExpressionAttributeNames: { '#p': 'position' },
            ExpressionAttributeValues: { ':d': inboxKeys.device(device.userId, device.deviceId), ':c': prefix },
            ProjectionExpression: '#p, fromSeq',
          });
          // The conversation is parked once per device: a pointer from the first seq the device missed
          // (copies of single messages, as parked before pointers, are counted too).
          const pointer = items.find((item) => item.position === inboxKeys.pointer(group.conversationId));
          const copies = new Set(
            items.filter((item) => item !== pointer).map((item) => Number(String(item.position).slice(prefix.length))),
          );
          const owed = (seq: number) => copies.has(seq) || (pointer !== undefined && seq >= Number(pointer.fromSeq));
          devices += 1;
          expected += group.acceptedSeqs.length;
          for (const seq of group.acceptedSeqs) if (!owed(seq)) missing += 1;
          // The pointer starts at the first seq parked: the creation event (seq 1) at most, or an accepted one.
          const wanted = new Set([1, ...group.acceptedSeqs]);
          if (pointer !== undefined && !wanted.has(Number(pointer.fromSeq))) unexpected += 1;
          for (const seq of copies) if (!wanted.has(seq)) unexpected += 1;
        }),
      ),
    ),
  );
  client.destroy();
  return { devices, expectedItems: expected, missing, unexpected };
}
