/** What an ack and a read cost on their own, each message sent and delivered first and not counted. */
import { round } from './capacity-tally';
import type { ReceiptAckResult, ReceiptSendResult } from './driver-protocol';
import { type CostReport, costBetween, cpuOf, readMeters } from './meters';
import type { PhaseContext } from './phases';
import { waitForQuiet } from './rig';

export type ReceiptCosts = Awaited<ReturnType<typeof measureReceipts>>;

export async function measureReceipts(context: PhaseContext) {
  context.log('receipts');
  return {
    perAck: await receiptCost(context, 'ack'),
    perRead: await receiptCost(context, 'read'),
  };
}

/** Ack or read cost alone: a message is sent and delivered first (not counted), then acknowledged. */
async function receiptCost(context: PhaseContext, action: 'ack' | 'read') {
  const { rig, settings } = context;
  const rounds: CostReport[] = [];
  let receiptFrames = 0;
  for (let i = 0; i < settings.receiptRounds; i++) {
    const sent = await rig.driver.call<ReceiptSendResult>({ kind: 'receiptSend', label: `${action}-${i}` });
    await waitForQuiet(rig);
    const before = readMeters(rig);
    await rig.driver.call<undefined>({ kind: 'receiptAck', action, ...sent });
    const answered = readMeters(rig);
    await waitForQuiet(rig);
    rounds.push(costBetween(before, { ...readMeters(rig), ...cpuOf(answered) }, 1));
    const counted = await rig.driver.call<ReceiptAckResult>({
      kind: 'receiptCount',
      conversationId: sent.conversationId,
    });
    receiptFrames += counted.receiptFramesToSender;
  }
  return {
    rounds: rounds.length,
    ...averageDeep(rounds),
    receiptFramesToSender: round(receiptFrames / rounds.length, 2),
  };
}

/** Mean of each numeric leaf over objects of the same shape (a leaf missing from one counts as 0). */
export function averageDeep<T>(objects: readonly T[]): T {
  const merge = (values: readonly unknown[]): unknown => {
    const present = values.filter((value) => value !== undefined && value !== null);
    if (present.every((value) => typeof value === 'number')) {
      return round((present as number[]).reduce((sum, value) => sum + value, 0) / values.length, 3);
    }
    if (present.every((value) => typeof value === 'object')) {
      const keys = new Set(present.flatMap((value) => Object.keys(value as object)));
      return Object.fromEntries(
        [...keys].map((key) => [key, merge(values.map((value) => (value as Record<string, unknown> | null)?.[key]))]),
      );
    }
    return present[0];
  };
  return merge(objects) as T;
}
