/**
 * The measurements the cost model prices besides the workloads' messages: reactions and edits (issue 17),
 * messages with the receipts the SDK coalesces per burst (issue 15), and a connected device's pings and
 * reconnects. Each is counted between two meter readings taken with the stack quiet.
 */
import type { ChangeKind, DriverCommand, InboxReturnResult, ReceiptBurstResult, Workload } from './driver-protocol';
import { type CostReport, costBetween, cpuOf, readMeters } from './meters';
import { type PhaseContext, type PhaseReport, runPhase } from './phases';
import { averageDeep } from './receipts';
import { invocationsFinished, waitForQuiet } from './rig';

export type ChangeCosts = Readonly<Record<`${Workload}-${ChangeKind}`, PhaseReport>>;
export type BurstCosts = Awaited<ReturnType<typeof measureReceiptBursts>>;
export type DeviceHourCosts = Awaited<ReturnType<typeof measureDeviceHour>>;
export type InboxReturnCosts = Awaited<ReturnType<typeof measureInboxReturn>>;

/** A reaction and an edit, each one at a time, in the 1:1 pairs and in the groups; costs are per change. */
export async function measureChanges(context: PhaseContext): Promise<ChangeCosts> {
  const { rig, settings, log } = context;
  log('changes: reactions and edits');
  const result: Partial<Record<`${Workload}-${ChangeKind}`, PhaseReport>> = {};
  for (const workload of ['direct', 'group'] as const) {
    await rig.driver.call<undefined>({ kind: 'changePrepare', workload });
    for (const change of ['react', 'edit'] as const) {
      result[`${workload}-${change}`] = await runPhase(context, {
        kind: 'changeProbe',
        workload,
        change,
        label: `${workload}-${change}`,
        changes: workload === 'direct' ? settings.directProbeMessages : settings.groupProbeMessages,
        drainTimeoutMs: settings.drainTimeoutMs,
      });
    }
  }
  return result as ChangeCosts;
}

/**
 * Bursts of `receiptBurstMessages` sent one at a time, then one ack and one read by every receiving
 * device up to the burst's last seq (the SDK coalesces its receipts so): the cost per message of the whole.
 */
export async function measureReceiptBursts(context: PhaseContext) {
  context.log(`receipts once per burst of ${context.settings.receiptBurstMessages}`);
  const bursts = { direct: await burstCost(context, 'direct'), group: await burstCost(context, 'group') };
  for (const [name, burst] of Object.entries(bursts)) {
    context.log(
      `${name} bursts: ${burst.receivers} receiving devices, ${burst.receiptErrors} receipts refused or unanswered; per message ${burst.dynamoDb.writeUnits} WRU (${burst.dynamoDb.transactionWriteUnitsAdded} of them added to DynamoDB Local's count of transactions), ${burst.dynamoDb.readUnits} RRU, ${burst.postToConnection} posts, ${burst.dynamoDb.failedCalls} failed DynamoDB calls ${JSON.stringify(burst.dynamoDb.failedByOperation)}`,
    );
    // Per table: what the capacity plan (docs/performance.md) multiplies by the message rate.
    context.log(
      `${name} bursts by table, per message (RRU/WRU): ${Object.entries(burst.dynamoDb.byTable)
        .map(([table, units]) => `${table} ${units.readUnits}/${units.writeUnits}`)
        .join(', ')}`,
    );
    context.log(
      `${name} bursts, Lambda per message (invocations x local mean ms, of it on the thread; billed at its memory's CPU): ${Object.entries(
        burst.lambdaInvocations.byFunction,
      )
        .map(([fn, f]) => `${fn} ${f.perMessage} x ${f.meanMs} (${f.onThreadMs}; billed ${f.billedMs})`)
        .join(', ')}`,
    );
  }
  return bursts;
}

/**
 * Each round measures a burst twice. Its counts (units, failed calls, posts, invocations) come from a
 * burst whose devices read (and so ack) all at once, as devices read on arrival, so their races are
 * billed. Its Lambda durations come from a second burst whose devices go one at a time: on AWS each
 * invocation has an execution environment to itself, and here the first burst's 59 invocations share one process,
 * each timed with the others' work (a group's acks measured about 800 ms each that way, 14 alone).
 */
async function burstCost(context: PhaseContext, workload: Workload) {
  const { rig, settings } = context;
  const rounds: CostReport[] = [];
  let receivers = 0;
  const refusedBefore = await rig.driver.call<number>({ kind: 'receiptRefusals', workload });
  /** Receivers read (answered only when refused): waited for until their invocations finished. */
  const reads = (read: Omit<Extract<DriverCommand, { kind: 'receiptReads' }>, 'kind'>) =>
    invocationsFinished(rig, 'wsRead', () => rig.driver.call<number>({ kind: 'receiptReads', ...read }));
  const measureBurst = async (label: string, oneAtATime: boolean) => {
    // Receipts up to date first, unmeasured, so the burst's reads cover the burst alone.
    await reads({ workload });
    await waitForQuiet(rig);
    const before = readMeters(rig);
    const burst = await rig.driver.call<ReceiptBurstResult>({
      kind: 'receiptBurst',
      workload,
      label,
      messages: settings.receiptBurstMessages,
    });
    receivers = burst.receivers;
    const upToSeq = burst.lastSeq;
    if (oneAtATime)
      for (let receiver = 0; receiver < receivers; receiver++) await reads({ workload, upToSeq, receiver });
    else await reads({ workload, upToSeq });
    const answered = readMeters(rig);
    await waitForQuiet(rig);
    return costBetween(before, { ...readMeters(rig), ...cpuOf(answered) }, burst.messages);
  };
  for (let i = 0; i < settings.receiptRounds; i++) {
    const together = await measureBurst(`${workload}-burst-${i}`, false);
    const alone = await measureBurst(`${workload}-burst-${i}-alone`, true);
    rounds.push(withDurationsOf(together, alone));
  }
  return {
    rounds: rounds.length,
    messagesPerBurst: settings.receiptBurstMessages,
    /** Devices that read (and so acked) each burst. */
    receivers,
    /** The receipt frames a burst's receivers sent, all of them: one read each (no ack: their reads cover it). */
    receiptFrames: { reads: receivers, acks: 0 },
    receiptErrors: (await rig.driver.call<number>({ kind: 'receiptRefusals', workload })) - refusedBefore,
    ...averageDeep(rounds),
  };
}

/** A function's durations alone (wall, on the thread, as billed), where the other burst ran it. */
function pickDurations(f: CostReport['lambdaInvocations']['byFunction'][string] | undefined) {
  return f === undefined ? {} : { meanMs: f.meanMs, onThreadMs: f.onThreadMs, billedMs: f.billedMs };
}

/** `counts`, each function's mean duration taken from `durations` where that ran it too. */
function withDurationsOf(counts: CostReport, durations: CostReport): CostReport {
  const byFunction = Object.fromEntries(
    Object.entries(counts.lambdaInvocations.byFunction).map(([name, f]) => [
      name,
      { ...f, ...pickDurations(durations.lambdaInvocations.byFunction[name]) },
    ]),
  );
  return { ...counts, lambdaInvocations: { ...counts.lambdaInvocations, byFunction } };
}

/** One keep-alive ping, and one reconnect as the SDK makes it (ticket, connect, authorizer, sync, disconnect). */
export async function measureDeviceHour(context: PhaseContext) {
  const { rig, settings, log } = context;
  log('a connected device: pings and reconnects');
  const measure = async (command: { kind: 'pings' | 'reconnects'; count: number }) => {
    await waitForQuiet(rig);
    const before = readMeters(rig);
    await rig.driver.call<undefined>(command);
    const answered = readMeters(rig);
    await waitForQuiet(rig);
    return costBetween(before, { ...readMeters(rig), ...cpuOf(answered) }, command.count);
  };
  return {
    perPing: await measure({ kind: 'pings', count: settings.pingCount }),
    perReconnect: await measure({ kind: 'reconnects', count: settings.reconnectCount }),
  };
}

/**
 * What a parked copy costs when its device comes back: offline devices of the groups connect (not
 * counted: a device reconnects whatever waits for it), then sync in pages and ack each conversation
 * as the SDK does, one device at a time with the streams settled in between (devices come back
 * hours apart, so their receipts never share a batch), counted per message replayed: the inbox
 * read, the page frames, the deletes the acks make, and the receipts they send. A ping per device
 * flushes the unanswered acks (counted too).
 */
export async function measureInboxReturn(context: PhaseContext) {
  const { rig, settings, log } = context;
  await rig.driver.call<undefined>({ kind: 'inboxReturnConnect', count: settings.inboxReturnDevices });
  await waitForQuiet(rig);
  const before = readMeters(rig);
  const returned = await rig.driver.call<InboxReturnResult>({ kind: 'inboxReturnSync' });
  const answered = readMeters(rig);
  await waitForQuiet(rig);
  const perParkedMessage = costBetween(before, { ...readMeters(rig), ...cpuOf(answered) }, returned.replayed);
  await rig.driver.call<undefined>({ kind: 'inboxReturnClose' });
  log(
    `offline devices back: ${returned.devices} synced ${returned.replayed} parked messages in ${returned.syncs} syncs and ${returned.acks} acks; per message ${perParkedMessage.dynamoDb.writeUnits} WRU, ${perParkedMessage.dynamoDb.readUnits} RRU, ${perParkedMessage.postToConnection} posts`,
  );
  return {
    ...returned,
    /** Each group message parks a copy for every offline member's device. */
    parkedPerGroupMessage: returned.offlineDevicesPerGroup,
    perParkedMessage,
  };
}
