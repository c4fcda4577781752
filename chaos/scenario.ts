/**
 * The chaos scenario: users with two devices each (the real client SDK), 1:1 chats and groups, many
 * messages, while the stack cuts connections (with and without `$disconnect`), answers postToConnection
 * with 410 or 500, fails the fan-out on flaky records and always on one poison record, delivers stream
 * batches twice and restarts DynamoDB Local (data kept on disk). Then faults stop and it checks that
 * every device holds every message of its conversations once, in seq order, that no inbox item is left,
 * and that the poison sits in the dead letters until `npm run redrive` delivers it to every device.
 */
import type { Message } from '../client/index';
import type { LocalStackTiming } from '../local/aws-timing';
import type { LocalStack } from '../local/stack';
import { type Cast, openDevices, readHistories } from './cast';
import type { ChaosDevice } from './device';
import { poisonMarker, textOf } from './fan-out-faults';
import { describeLeftovers, inboxItems } from './inbox';
import { type ChaosRig, faultCounts, startStackWithFaults, stopStackWithFaults } from './rig';
import { type RedriveRun, runRedrive } from './run-redrive';
import type { ChaosSettings } from './settings';
import {
  countDuplicateFrames,
  countMissing,
  countVisibleFaults,
  findGapFills,
  findLost,
  holds,
  tallyErrors,
} from './tallies';
import { waitFor } from './wait';
import { type Poison, type SentWorkload, sendWorkload } from './workload';

/** The figures `npm run chaos` prints as one JSON line. */
export interface ChaosReport {
  readonly ok: boolean;
  readonly failures: readonly string[];
  readonly mode: ChaosSettings['name'];
  readonly seed: number;
  /** `local`, or the AWS timing profile's seed (`--aws-timing`; the profile is local/aws-timing-profile.ts). */
  readonly timing: 'local' | { readonly profile: 'aws'; readonly seed: number };
  readonly sent: number;
  /**
   * Messages whose sender was told they were accepted (`messageAccepted`) that some recipient device
   * (every member's, the sending device aside) never received at all: not pushed, replayed nor fetched.
   */
  readonly lost: number;
  /** Of those, messages the history does not hold either (accepted, never stored). */
  readonly acceptedNotStored: number;
  /** History messages (voids aside) some member device lacks: what the run used to call lost. */
  readonly missingFromCaches: number;
  /**
   * Messages a device holds only because it filled a gap from history (push and inbox both missed
   * them), summed over devices; each is listed in the progress log (docs/operations.md explains them).
   */
  readonly gapFills: number;
  /**
   * Of those, the ones whose device kept one socket open from the commit until `steadyWindowMs` later:
   * push and inbox missed them without a connection to blame (the rest met a connection down or cut).
   */
  readonly gapFillsOnSteadyConnection: number;
  /** The same message emitted or cached twice on one device, after the SDK's dedupe. */
  readonly duplicated: number;
  /** `message` frames a device received for a message it had already received (on the wire, before the SDK). */
  readonly duplicatesBeforeDedupe: number;
  /** At the app, after the SDK: a `message` event or cache entry not above the previous seq. */
  readonly outOfOrder: number;
  /** On the wire, before the SDK: a first frame for a message below one already received in its conversation. */
  readonly outOfOrderOnWire: number;
  readonly faults: Readonly<Record<string, number>>;
  /** Inbox items left once every device synced and acked after the faults. */
  readonly inboxLeft: number;
  /** Left after the acks of the run itself, before that last sync (stale copies of acked messages). */
  readonly inboxLeftBeforeResync: number;
  /** Of those, items for messages their device does not hold. */
  readonly inboxItemsForMissingMessages: number;
  readonly poison: {
    readonly deadLettered: boolean;
    /** Recipient devices holding the poison before the redrive (caught up from history after a reconnect). */
    readonly heldBeforeRedrive: number;
    readonly redriven: boolean;
    readonly recipients: number;
    /** Recipient devices that received the redriven frame and hold the message. */
    readonly reachedByRedrive: number;
  };
  readonly deadLetters: number;
  readonly sendsFailed: number;
  /** Errors the SDKs reported, by kind and code (faults cause many: informational). */
  readonly clientErrors: Readonly<Record<string, number>>;
  /** Gaps the SDK gave up filling (its `gap_unfilled` errors). */
  readonly gapsUnfilled: number;
  readonly users: number;
  readonly devices: number;
  readonly conversations: number;
  readonly historyMessages: number;
  readonly stream: Readonly<Record<string, number>>;
  readonly seconds: number;
}

export interface ChaosRunOptions {
  readonly settings: ChaosSettings;
  /** Progress lines (stderr in `npm run chaos`). */
  readonly log: (line: string) => void;
  readonly keepData?: boolean;
  /** Fail on any inbox item left after the run's acks, before the devices' next sync. */
  readonly strictInbox?: boolean;
  /** The stack's timing (`--aws-timing`); absent: local. */
  readonly timing?: LocalStackTiming | undefined;
}

interface PoisonRedrive {
  /** Recipient devices (the sender's other device included), when the poison was accepted. */
  readonly recipients: readonly ChaosDevice[];
  readonly heldBeforeRedrive: number;
  readonly run: RedriveRun;
  readonly redriven: boolean;
  readonly reachedByRedrive: number;
}

interface Delivery {
  /** Every conversation's history (voids left out), read after the redrive. */
  readonly history: ReadonlyMap<string, readonly Message[]>;
  readonly lost: number;
  readonly acceptedNotStored: number;
  readonly missingFromCaches: number;
}

interface InboxDrain {
  readonly leftBeforeResync: number;
  readonly itemsForMissingMessages: number;
  readonly left: number;
}

interface VisibleFaults {
  readonly duplicated: number;
  readonly outOfOrder: number;
  readonly duplicatesBeforeDedupe: number;
  readonly outOfOrderOnWire: number;
  readonly gapFills: number;
  readonly gapFillsOnSteadyConnection: number;
}

/** What the steps observed: the invariants are judged on it and the report lists it. */
interface Observations {
  readonly sent: SentWorkload;
  readonly poisonDeadLettered: boolean;
  readonly redrive: PoisonRedrive;
  readonly delivery: Delivery;
  readonly inbox: InboxDrain;
  readonly visible: VisibleFaults;
}

export async function runChaos(options: ChaosRunOptions): Promise<ChaosReport> {
  const { settings, log } = options;
  const startedAt = performance.now();
  const rig = await startStackWithFaults(settings, options.timing);
  const devices: ChaosDevice[] = [];
  try {
    const timing = rig.stack.timing === undefined ? 'local timing' : `AWS timing, seed ${rig.stack.timing.seed}`;
    log(
      `stack up (data in ${rig.dataDir}, ${timing}); ${settings.users} users, ${settings.users * settings.devicesPerUser} devices`,
    );
    const cast = await openDevices(rig.stack, settings, rig.random, devices, log);
    const sent = await sendWorkload(rig, cast, settings, log);
    const poisonDeadLettered = await awaitConvergence(rig.stack, cast, sent.poison, settings, log);
    const redrive = await redrivePoison(rig.dataDir, cast, sent.poison, log);
    const delivery = await countLost(cast, sent, log);
    const inbox = await drainAndResync(rig.stack, devices, log);
    const visible = countDuplicatesAndOrder(cast, sent, log);
    const observations: Observations = { sent, poisonDeadLettered, redrive, delivery, inbox, visible };
    const failures = judgeInvariants(observations, settings, options.strictInbox === true);
    return chaosReport(observations, failures, rig, cast, settings, startedAt);
  } finally {
    await Promise.all(devices.map((device) => device.client.close()));
    await stopStackWithFaults(rig, options.keepData === true);
  }
}

/**
 * Waits for the poison to be dead-lettered once its retries ran out, and for everything else to converge
 * without help (pushes, inbox syncs, gap fills and catch-ups); answers whether the poison was dead-lettered.
 */
async function awaitConvergence(
  stack: LocalStack,
  cast: Cast,
  poison: Poison,
  settings: ChaosSettings,
  log: (line: string) => void,
): Promise<boolean> {
  const poisonLetter = (): boolean =>
    stack.deadLetters.some((letter) => letter.source === 'stream' && textOf(letter.record).includes(poisonMarker));
  if (poison.message !== undefined) {
    await waitFor('the poison record in the dead letters', 120_000, log, () => (poisonLetter() ? 0 : 1));
  }
  const poisonDeadLettered = poisonLetter();

  const history = await readHistories(cast.conversations, cast.usersDevices);
  const isPoison = (message: Message): boolean =>
    poison.message !== undefined &&
    message.conversationId === poison.message.conversationId &&
    message.seq === poison.message.seq;
  await waitFor('every device to hold every message', settings.settleTimeoutMs, log, () =>
    countMissing(cast.devices, cast.conversations, history, (message) => !isPoison(message)),
  );
  return poisonDeadLettered;
}

/** Runs `npm run redrive` on the dead letters and waits for the poison's frame on every recipient device. */
async function redrivePoison(
  dataDir: string,
  cast: Cast,
  poison: Poison,
  log: (line: string) => void,
): Promise<PoisonRedrive> {
  const message = poison.message;
  const recipients =
    message === undefined
      ? []
      : cast.devices.filter(
          (device) =>
            poison.conversation.members.includes(device.userId) &&
            !(device.userId === poison.sender.userId && device.deviceId === poison.sender.deviceId),
        );
  const framesBefore = new Map(
    recipients.map((device) => [device, message ? device.framesOf(message.conversationId, message.seq) : 0]),
  );
  // A device the writer's direct delivery reached holds it already (fan-out skips it, the redrive too);
  // every other recipient must get a new frame from the redrive.
  const heldBefore = new Set(recipients.filter((device) => holds(device, message)));
  const reached = (device: ChaosDevice): boolean =>
    message !== undefined &&
    holds(device, message) &&
    (heldBefore.has(device) || device.framesOf(message.conversationId, message.seq) > (framesBefore.get(device) ?? 0));

  // The fix is "deploy the real handler": the redrive runs this checkout's handler in another process.
  log('redriving the dead letters');
  const run = await runRedrive(dataDir);
  log(`redrive: ${run.line}`);
  await waitFor(
    'the redriven poison on every recipient device',
    60_000,
    log,
    () => recipients.filter((device) => !reached(device)).length,
  );
  return {
    recipients,
    heldBeforeRedrive: heldBefore.size,
    run,
    redriven: run.exitCode === 0 && run.redriven >= 1,
    reachedByRedrive: recipients.filter(reached).length,
  };
}

/**
 * Counted before anything else reconnects: a message must arrive without help from a later sync. Lost
 * is judged against what senders were told was accepted, not against the history, which would miss a
 * message accepted and never stored.
 */
async function countLost(cast: Cast, sent: SentWorkload, log: (line: string) => void): Promise<Delivery> {
  const history = await readHistories(cast.conversations, cast.usersDevices);
  const lost = findLost(cast.devices, cast.conversations, sent.accepted, sent.senders);
  const stored = (message: Message): boolean =>
    (history.get(message.conversationId) ?? []).some((entry) => entry.seq === message.seq && entry.id === message.id);
  for (const { message, missingOn } of lost.slice(0, 20)) {
    log(
      `lost: ${message.conversationId}#${message.seq} (${message.text.slice(0, 30)}) on ${missingOn.map((device) => device.deviceId).join(', ')}${stored(message) ? '' : ', not in history'}`,
    );
  }
  return {
    history,
    lost: lost.length,
    acceptedNotStored: sent.accepted.filter((message) => !stored(message)).length,
    missingFromCaches: countMissing(cast.devices, cast.conversations, history, () => true),
  };
}

/**
 * Acks empty every inbox. Left items are told apart: a stale copy of a message the device holds and
 * acked (a retried fan-out re-parked it: see docs/operations.md), or one the device lacks (a loss).
 * Then every device reconnects once, as an app does on its next start: its sync replays what is parked and acks it.
 */
async function drainAndResync(
  stack: LocalStack,
  devices: readonly ChaosDevice[],
  log: (line: string) => void,
): Promise<InboxDrain> {
  const leftBeforeResync = await waitFor(
    'every inbox to be empty',
    10_000,
    log,
    async () => (await inboxItems(stack)).length,
  );
  const leftovers = describeLeftovers(await inboxItems(stack), devices);
  if (leftovers.length > 0) log(`inbox items left after acks: ${JSON.stringify(leftovers.slice(0, 10))}`);

  for (const id of stack.connectionIds()) stack.dropConnection(id, { notify: true });
  await waitFor(
    'every device to reconnect and sync',
    60_000,
    log,
    () => devices.filter((device) => device.client.state !== 'connected').length,
  );
  const left = await waitFor(
    'every inbox to be empty after the sync',
    30_000,
    log,
    async () => (await inboxItems(stack)).length,
  );
  return {
    leftBeforeResync,
    itemsForMissingMessages: leftovers.filter((item) => !item.held).length,
    left,
  };
}

/**
 * Duplicates and order as the devices saw them, on the wire and after the SDK, the replays of that last
 * sync included; and the messages a device only has from history (each logged, for the explanation).
 */
function countDuplicatesAndOrder(cast: Cast, sent: SentWorkload, log: (line: string) => void): VisibleFaults {
  const poison = sent.poison.message;
  const gapFills = findGapFills(
    cast.devices,
    cast.conversations,
    sent.senders,
    (message) => poison !== undefined && message.conversationId === poison.conversationId && message.seq === poison.seq,
  );
  for (const fill of gapFills.slice(0, 50)) log(`gap fill: ${JSON.stringify(fill)}`);
  return {
    ...countVisibleFaults(cast.devices, cast.conversations),
    duplicatesBeforeDedupe: countDuplicateFrames(cast.devices),
    outOfOrderOnWire: cast.devices.reduce((sum, device) => sum + device.wire.outOfOrder, 0),
    gapFills: gapFills.length,
    gapFillsOnSteadyConnection: gapFills.filter((fill) => fill.steadyConnection).length,
  };
}

/** Every invariant the run broke, in the order the run reaches them. */
function judgeInvariants(observed: Observations, settings: ChaosSettings, strictInbox: boolean): string[] {
  const { sent, redrive, inbox, visible } = observed;
  const failures: string[] = [];
  if (!sent.sendsSettled) failures.push(`sends made no progress for ${settings.settleTimeoutMs} ms`);
  if (sent.sendsFailed > 0) failures.push(`${sent.sendsFailed} sends were refused`);
  if (!observed.poisonDeadLettered) failures.push('the poison record never reached the dead letters');
  if (!redrive.redriven) failures.push(`the redrive failed (exit ${redrive.run.exitCode}): ${redrive.run.line}`);
  if (sent.poison.message === undefined) failures.push('the poison message was never accepted');
  else if (redrive.reachedByRedrive < redrive.recipients.length) {
    failures.push(`the redriven poison reached ${redrive.reachedByRedrive} of ${redrive.recipients.length} devices`);
  }
  if (observed.delivery.lost > 0) {
    failures.push(`${observed.delivery.lost} accepted messages never reached some recipient device`);
  }
  if (observed.delivery.acceptedNotStored > 0) {
    failures.push(`${observed.delivery.acceptedNotStored} accepted messages are not in the history`);
  }
  if (observed.delivery.missingFromCaches > 0) {
    failures.push(`${observed.delivery.missingFromCaches} history messages missing from device caches`);
  }
  if (inbox.itemsForMissingMessages > 0) {
    failures.push(`${inbox.itemsForMissingMessages} inbox items left for messages their device lacks`);
  }
  if (strictInbox && inbox.leftBeforeResync > 0) {
    failures.push(`${inbox.leftBeforeResync} inbox items left after acks (before the devices' next sync)`);
  }
  if (inbox.left > 0) failures.push(`${inbox.left} inbox items left after the devices synced and acked`);
  if (visible.duplicated > 0) failures.push(`${visible.duplicated} messages seen twice after dedupe`);
  if (visible.outOfOrder > 0) failures.push(`${visible.outOfOrder} messages out of seq order`);
  return failures;
}

function chaosReport(
  observed: Observations,
  failures: readonly string[],
  rig: ChaosRig,
  cast: Cast,
  settings: ChaosSettings,
  startedAt: number,
): ChaosReport {
  const { sent, redrive, delivery, inbox, visible } = observed;
  const { devices } = cast;
  const streamStats = rig.stack.streamStats;
  return {
    ok: failures.length === 0,
    failures,
    mode: settings.name,
    seed: settings.seed,
    timing: rig.stack.timing === undefined ? 'local' : { profile: 'aws', seed: rig.stack.timing.seed },
    sent: sent.accepted.length,
    lost: delivery.lost,
    acceptedNotStored: delivery.acceptedNotStored,
    missingFromCaches: delivery.missingFromCaches,
    gapFills: visible.gapFills,
    gapFillsOnSteadyConnection: visible.gapFillsOnSteadyConnection,
    duplicated: visible.duplicated,
    duplicatesBeforeDedupe: visible.duplicatesBeforeDedupe,
    outOfOrder: visible.outOfOrder,
    outOfOrderOnWire: visible.outOfOrderOnWire,
    faults: faultCounts(rig, sent.drops, settings),
    inboxLeft: inbox.left,
    inboxLeftBeforeResync: inbox.leftBeforeResync,
    inboxItemsForMissingMessages: inbox.itemsForMissingMessages,
    poison: {
      deadLettered: observed.poisonDeadLettered,
      heldBeforeRedrive: redrive.heldBeforeRedrive,
      redriven: redrive.redriven,
      recipients: redrive.recipients.length,
      reachedByRedrive: redrive.reachedByRedrive,
    },
    deadLetters: rig.stack.deadLetters.length,
    sendsFailed: sent.sendsFailed,
    clientErrors: tallyErrors(devices),
    gapsUnfilled: devices.reduce((sum, device) => sum + (device.errors.get('ParleyClientError:gap_unfilled') ?? 0), 0),
    users: settings.users,
    devices: devices.length,
    conversations: cast.conversations.length,
    historyMessages: [...delivery.history.values()].reduce((sum, messages) => sum + messages.length, 0),
    stream: {
      batches: streamStats.batches,
      retries: streamStats.retries,
      failedBatches: streamStats.failedBatches,
      outageRetries: streamStats.outageRetries,
      deadLettered: streamStats.deadLettered,
      concurrentBatches: streamStats.concurrentBatches,
    },
    seconds: Math.round((performance.now() - startedAt) / 1000),
  };
}
