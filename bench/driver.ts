/**
 * The device driver: a child process of `bench/main.ts` holding every WebSocket client. It sets up
 * the 1:1 pairs and groups through the HTTP API, runs the workloads it is told to, and checks every
 * online device for every message: exactly once, in seq order, with its send-to-arrival latency.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import WebSocket from 'ws';
import { api, issueToken } from '../test/support/chat-client';
import type {
  ChangeKind,
  DriverCommand,
  DriverRequest,
  DriverResponse,
  DriverSetup,
  GroupLedger,
  InboxReturnResult,
  PhaseResult,
  PhaseSent,
  ReceiptAckResult,
  ReceiptBurstResult,
  ReceiptSendResult,
  SettledReply,
  SettleRequest,
  SetupResult,
  Workload,
} from './driver-protocol';
import { messageText } from './settings';

type Frame = Record<string, unknown> & { type?: string };

interface WireMessage {
  readonly conversationId: string;
  readonly seq: number;
  readonly type: string;
  readonly clientMessageId?: string;
}

interface Conversation {
  readonly id: string;
  readonly workload: Workload;
  /** Online devices of the members; every one but the sender should get each message. */
  readonly devices: Device[];
  readonly offlineDevices: readonly { readonly userId: string; readonly deviceId: string }[];
  readonly acceptedSeqs: number[];
  /** The message `changeProbe` reacts to or edits, and who sent it (`changePrepare`). */
  changeTarget?: { readonly seq: number; readonly sender: Device };
  /** Changes made to `changeTarget` so far: each reaction takes another emoji. */
  changesMade: number;
}

/** Distinct emoji for reactions: one user reacts to one message once per emoji (at most 20 per message). */
const reactionEmoji = ['👍', '❤️', '😂', '😮', '😢', '🙏', '🎉', '🔥', '👀', '💯', '✅', '🚀', '😍', '🤔', '👏', '🙌'];

class Device {
  /** Highest seq seen per conversation, for the order check. */
  readonly lastSeq = new Map<string, number>();
  /** Highest seq known per conversation, its own accepted sends included: `afterSeq` of the direct chat view. */
  private readonly knownSeq = new Map<string, number>();
  /** The peer of each direct chat, as the last `messageAccepted` there named it (as the SDK keeps it). */
  private readonly directPeer = new Map<string, string>();
  receiptFrames = 0;
  /** Reads the server refused: a read is answered only when refused. */
  refusedReads = 0;
  private waiters: { predicate: (frame: Frame) => boolean; resolve: (frame: Frame) => void }[] = [];

  constructor(
    readonly userId: string,
    readonly deviceId: string,
    /** Replaced when the device reconnects (`reconnects`). */
    public socket: WebSocket,
    /** Its user's token: reconnects take a connect ticket with it, as the SDK does. */
    readonly token: string,
  ) {}

  send(frame: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(frame));
  }

  /** Sends and resolves with the first later frame of `answerType` (or an error frame). */
  request(frame: Record<string, unknown>, answerType: string, timeoutMs = 15_000): Promise<Frame> {
    const answered = new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.deviceId}: no ${answerType}`)), timeoutMs);
      this.waiters.push({
        predicate: (f) => f.type === answerType || f.type === 'error',
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
    this.send(frame);
    return answered;
  }

  /** A message this device received, synced or had accepted. */
  noteSeq(message: WireMessage): void {
    const known = this.knownSeq.get(message.conversationId) ?? 0;
    if (message.seq > known) this.knownSeq.set(message.conversationId, message.seq);
  }

  /** What a `messageAccepted` said of its conversation: a direct chat's peer, or none (forgotten). */
  notePeer(conversationId: string, peerId: string | undefined): void {
    if (peerId === undefined) this.directPeer.delete(conversationId);
    else this.directPeer.set(conversationId, peerId);
  }

  /** The `directChat` field for a `sendMessage` frame to the conversation, when its peer is known. */
  directChatView(conversationId: string): { directChat?: { peerId: string; afterSeq: number } } {
    const peerId = this.directPeer.get(conversationId);
    if (peerId === undefined) return {};
    return { directChat: { peerId, afterSeq: this.knownSeq.get(conversationId) ?? 0 } };
  }

  offer(frame: Frame): void {
    if (frame.type === 'receipt' || frame.type === 'receipts') this.receiptFrames += 1;
    if (frame.type === 'error' && frame.action === 'read') this.refusedReads += 1;
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.predicate(frame)) return true;
      waiter.resolve(frame);
      return false;
    });
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** Counters of one phase; every send belongs to exactly one. */
class Phase {
  readonly latenciesMs: number[] = [];
  readonly fanOutMs: number[] = [];
  readonly firstDeviceMs: number[] = [];
  readonly acceptedMs: number[] = [];
  readonly sends: Send[] = [];
  readonly errorCodes = new Set<string>();
  duplicates = 0;
  outOfOrder = 0;
  maxScheduleLagMs = 0;
  readonly startedAt = performance.now();
  readonly cpuAtStart = process.cpuUsage();

  constructor(readonly label: string) {}
}

class Send {
  readonly pending: Set<Device>;
  readonly arrived = new Set<Device>();
  state: 'sent' | 'accepted' | 'failed' = 'sent';
  firstArrivalAt: number | undefined;
  /** When the last recipient got it. */
  completedAt: number | undefined;
  seq: number | undefined;
  private finish: () => void = () => undefined;
  /** Resolves once every recipient has the message, or the send failed. */
  readonly done = new Promise<void>((resolve) => {
    this.finish = resolve;
  });

  constructor(
    readonly id: string,
    readonly conversation: Conversation,
    readonly sender: Device,
    readonly phase: Phase,
    readonly sentAt: number,
  ) {
    this.pending = new Set(conversation.devices.filter((device) => device !== sender));
  }

  get expected(): number {
    return this.pending.size + this.arrived.size;
  }

  settle(): void {
    this.finish();
  }
}

const sends = new Map<string, Send>();
const conversations: Conversation[] = [];
const allDevices: Device[] = [];
let settings: DriverSetup | undefined;
let random = mulberry32(7);
/** Frames that broke order or repeated outside any phase (e.g. setup traffic). */
let phaseOutOfOrderOutside = 0;

function onFrame(device: Device, frame: Frame): void {
  if (frame.type === 'message') {
    device.noteSeq(frame.message as WireMessage);
    onMessage(device, frame.message as WireMessage);
    return;
  }
  if (frame.type === 'messages' && Array.isArray(frame.messages)) {
    for (const message of frame.messages as WireMessage[]) {
      device.noteSeq(message);
      onMessage(device, message);
    }
    return;
  }
  if (frame.type === 'messagesAccepted' && Array.isArray(frame.messages)) {
    for (const message of frame.messages as WireMessage[]) device.noteSeq(message);
  }
  if (frame.type === 'messageAccepted') {
    const message = frame.message as WireMessage;
    device.noteSeq(message);
    // A text send's answer speaks of the peer; a change's never does.
    if (message.type === 'text') device.notePeer(message.conversationId, directPeerOf(frame));
  }
  if (frame.type === 'messageAccepted' || (frame.type === 'error' && typeof frame.clientMessageId === 'string')) {
    const send = sends.get(String(frame.clientMessageId));
    if (send !== undefined && send.sender === device) {
      onAnswer(send, frame);
      return;
    }
  }
  device.offer(frame);
}

/** The peer a `messageAccepted` names for its direct chat (absent in a group, or once the peer left). */
function directPeerOf(frame: Frame): string | undefined {
  const directChat = frame.directChat;
  if (typeof directChat !== 'object' || directChat === null) return undefined;
  const peerId: unknown = Reflect.get(directChat, 'peerId');
  return typeof peerId === 'string' ? peerId : undefined;
}

function onAnswer(send: Send, frame: Frame): void {
  if (frame.type === 'messageAccepted') {
    send.state = 'accepted';
    send.phase.acceptedMs.push(performance.now() - send.sentAt);
    const seq = (frame.message as WireMessage).seq;
    send.seq = seq;
    send.conversation.acceptedSeqs.push(seq);
    if (send.pending.size === 0) send.settle();
    return;
  }
  send.state = 'failed';
  send.phase.errorCodes.add(String(frame.code));
  send.settle();
}

function onMessage(device: Device, message: WireMessage): void {
  const at = performance.now();
  const send = message.clientMessageId === undefined ? undefined : sends.get(message.clientMessageId);
  const last = device.lastSeq.get(message.conversationId);
  if (send?.arrived.has(device)) {
    send.phase.duplicates += 1;
    return;
  }
  if (last !== undefined && message.seq <= last) {
    if (send) send.phase.outOfOrder += 1;
    else phaseOutOfOrderOutside += 1;
  } else {
    device.lastSeq.set(message.conversationId, message.seq);
  }
  if (send === undefined || !send.pending.delete(device)) return;
  send.arrived.add(device);
  send.phase.latenciesMs.push(at - send.sentAt);
  if (send.firstArrivalAt === undefined) {
    send.firstArrivalAt = at;
    send.phase.firstDeviceMs.push(at - send.sentAt);
  }
  if (send.pending.size === 0) {
    send.completedAt = at;
    send.phase.fanOutMs.push(at - send.sentAt);
    if (send.state !== 'sent') send.settle();
  }
}

function sendOne(phase: Phase, conversation: Conversation, sender: Device, id: string): Send {
  const text = messageText(id, settings?.textLength ?? 100);
  // With the sender's view of a direct chat, as the SDK sends it: the server can skip reading the conversation.
  const view = sender.directChatView(conversation.id);
  return sendFrame(phase, conversation, sender, id, { action: 'sendMessage', text, ...view });
}

/** Any frame answered by `messageAccepted` and delivered to every other online device (a send or a change). */
function sendFrame(
  phase: Phase,
  conversation: Conversation,
  sender: Device,
  id: string,
  frame: Record<string, unknown>,
): Send {
  const send = new Send(id, conversation, sender, phase, performance.now());
  sends.set(id, send);
  phase.sends.push(send);
  sender.send({ ...frame, conversationId: conversation.id, clientMessageId: id });
  return send;
}

/** The k-th sender of a conversation: 1:1 alternates between the two, a group picks an online device at random. */
function senderFor(conversation: Conversation, k: number): Device {
  const devices = conversation.devices;
  const index = conversation.workload === 'direct' ? k % devices.length : Math.floor(random() * devices.length);
  return devices[index] as Device;
}

function conversationsOf(workload: Workload): Conversation[] {
  return conversations.filter((conversation) => conversation.workload === workload);
}

async function settleAll(phase: Phase, drainTimeoutMs: number): Promise<void> {
  await Promise.race([Promise.all(phase.sends.map((send) => send.done)), sleep(drainTimeoutMs)]);
}

/** A phase whose sending is over; `summarize` judges it once the main process has seen the stack go quiet. */
let sentPhase: (() => PhaseResult) | undefined;

function finishSending(
  phase: Phase,
  workload: Workload,
  mode: PhaseResult['mode'],
  sendSeconds: number,
  extra: { targetRate?: number; lanes?: number; change?: ChangeKind },
): PhaseSent {
  sentPhase = () => summarize(phase, workload, mode, sendSeconds, extra);
  return { sent: phase.sends.length, incomplete: phase.sends.filter((send) => send.pending.size > 0).length };
}

function summarizeSent(): PhaseResult {
  if (sentPhase === undefined) throw new Error('no phase to summarize');
  const result = sentPhase();
  sentPhase = undefined;
  return result;
}

function summarize(
  phase: Phase,
  workload: Workload,
  mode: PhaseResult['mode'],
  sendSeconds: number,
  extra: { targetRate?: number; lanes?: number; change?: ChangeKind },
): PhaseResult {
  const accepted = phase.sends.filter((send) => send.state === 'accepted');
  const failed = phase.sends.filter((send) => send.state === 'failed').length;
  const unanswered = phase.sends.filter((send) => send.state === 'sent').length;
  if (unanswered > 0) phase.errorCodes.add('unanswered');
  const expectedDeliveries = accepted.reduce((total, send) => total + send.expected, 0);
  const lostSamples = accepted
    .filter((send) => send.pending.size > 0)
    .slice(0, 10)
    .map((send) => ({
      clientMessageId: send.id,
      conversationId: send.conversation.id,
      seq: send.seq ?? -1,
      missingOn: [...send.pending].map((device) => `${device.userId}/${device.deviceId}`),
    }));
  const delivered = accepted.reduce((total, send) => total + send.arrived.size, 0);
  const cpu = process.cpuUsage(phase.cpuAtStart);
  for (const send of phase.sends) sends.delete(send.id);
  const lastCompletedAt = accepted.reduce((last, send) => Math.max(last, send.completedAt ?? 0), phase.startedAt);
  return {
    label: phase.label,
    workload,
    mode,
    ...extra,
    secondsToLastCompletion: (lastCompletedAt - phase.startedAt) / 1000,
    lostSamples,
    // Until the last delivery (or the end of sending, if later): waiting for the stack to go quiet is not counted.
    seconds: (Math.max(lastCompletedAt, phase.startedAt + sendSeconds * 1000) - phase.startedAt) / 1000,
    sendSeconds,
    sent: phase.sends.length,
    accepted: accepted.length,
    sendErrors: failed + unanswered,
    sendErrorCodes: [...phase.errorCodes],
    expectedDeliveries,
    delivered,
    lost: expectedDeliveries - delivered,
    duplicates: phase.duplicates,
    outOfOrder: phase.outOfOrder,
    completeMessages: accepted.filter((send) => send.pending.size === 0).length,
    latenciesMs: phase.latenciesMs,
    fanOutMs: phase.fanOutMs,
    firstDeviceMs: phase.firstDeviceMs,
    acceptedMs: phase.acceptedMs,
    maxScheduleLagMs: phase.maxScheduleLagMs,
    driverCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

async function openLoop(command: Extract<DriverCommand, { kind: 'openLoop' }>): Promise<PhaseSent> {
  const targets = conversationsOf(command.workload);
  const phase = new Phase(command.label);
  const total = Math.round(command.rate * command.seconds);
  const intervalMs = 1000 / command.rate;
  const start = performance.now();
  for (let i = 0; i < total; ) {
    const now = performance.now();
    // Everything due by now goes out; the lag says whether the driver kept its own schedule.
    while (i < total && start + i * intervalMs <= now) {
      const conversation = targets[i % targets.length] as Conversation;
      const round = Math.floor(i / targets.length);
      phase.maxScheduleLagMs = Math.max(phase.maxScheduleLagMs, now - (start + i * intervalMs));
      sendOne(phase, conversation, senderFor(conversation, round), `${command.label}-${i}`);
      i += 1;
    }
    if (i < total) await sleep(Math.max(0, start + i * intervalMs - performance.now()));
  }
  const sendSeconds = (performance.now() - start) / 1000;
  await settleAll(phase, command.drainTimeoutMs);
  return finishSending(phase, command.workload, 'openLoop', sendSeconds, { targetRate: command.rate });
}

async function closedLoop(command: Extract<DriverCommand, { kind: 'closedLoop' }>): Promise<PhaseSent> {
  const targets = conversationsOf(command.workload).slice(0, command.conversations);
  const phase = new Phase(command.label);
  const deadline = performance.now() + command.seconds * 1000;
  const lanes = targets.flatMap((conversation) =>
    Array.from({ length: command.lanesPerConversation }, (_, lane) => ({ conversation, lane })),
  );
  let sentBeforeDeadline = performance.now();
  // A lane waits this long for its message, then moves on (the message still counts as lost if it never arrives).
  const laneWaitMs = Math.min(command.drainTimeoutMs, 10_000);
  await Promise.all(
    lanes.map(async ({ conversation, lane }, laneIndex) => {
      for (let k = 0; performance.now() < deadline; k++) {
        const send = sendOne(
          phase,
          conversation,
          senderFor(conversation, k + lane),
          `${command.label}-${laneIndex}-${k}`,
        );
        sentBeforeDeadline = performance.now();
        await Promise.race([send.done, sleep(laneWaitMs)]);
      }
    }),
  );
  const sendSeconds = (sentBeforeDeadline - phase.startedAt) / 1000;
  await settleAll(phase, command.drainTimeoutMs);
  return finishSending(phase, command.workload, 'closedLoop', sendSeconds, { lanes: lanes.length });
}

async function probe(command: Extract<DriverCommand, { kind: 'probe' }>): Promise<PhaseSent> {
  const targets = conversationsOf(command.workload);
  const phase = new Phase(command.label);
  for (let i = 0; i < command.messages; i++) {
    const conversation = targets[i % targets.length] as Conversation;
    const send = sendOne(phase, conversation, senderFor(conversation, i), `${command.label}-${i}`);
    await Promise.race([send.done, sleep(command.drainTimeoutMs)]);
    // Unloaded: the last message's fan-out is not left running beside the next one's send.
    if (i + 1 < command.messages) await stackSettled();
  }
  const sendSeconds = (performance.now() - phase.startedAt) / 1000;
  return finishSending(phase, command.workload, 'probe', sendSeconds, {});
}

async function connectDevice(wsUrl: string, userId: string, token: string, deviceId: string): Promise<Device> {
  const socket = await openSocket(
    `${wsUrl}?token=${encodeURIComponent(token)}&deviceId=${encodeURIComponent(deviceId)}`,
  );
  const device = new Device(userId, deviceId, socket, token);
  socket.on('message', (data) => onFrame(device, JSON.parse(String(data)) as Frame));
  return device;
}

async function openSocket(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`handshake refused: HTTP ${response.statusCode}`)),
    );
    socket.once('error', reject);
  });
  return socket;
}

/** What the SDK does every maxConnectionMs: drop the socket, take a connect ticket, connect with it, sync. */
async function reconnect(device: Device): Promise<void> {
  await device.close();
  const ticket = await api(settings?.httpUrl ?? '', device.token, 'POST', '/connect-ticket');
  if (ticket.status >= 300) throw new Error(`connect ticket: HTTP ${ticket.status}`);
  const url = new URL(settings?.wsUrl ?? '');
  url.searchParams.set('ticket', String(ticket.body.ticket));
  url.searchParams.set('deviceId', device.deviceId);
  const socket = await openSocket(url.toString());
  device.socket = socket;
  socket.on('message', (data) => onFrame(device, JSON.parse(String(data)) as Frame));
  const synced = await device.request({ action: 'sync', pages: true }, 'syncComplete');
  if (synced.type === 'error') throw new Error(`sync: ${JSON.stringify(synced)}`);
}

async function reconnects(count: number): Promise<void> {
  const pairs = conversationsOf('direct');
  for (let i = 0; i < count; i++) {
    const [, receiver] = (pairs[i % pairs.length] as Conversation).devices as [Device, Device];
    await reconnect(receiver);
  }
}

/** Offline devices back online for `inboxReturnSync`, closed again by `inboxReturnClose`. */
let returning: Device[] = [];

async function inboxReturnConnect(count: number): Promise<void> {
  const wsUrl = settings?.wsUrl ?? '';
  const offline = connectPlan.flatMap((plan) => plan.offline).slice(0, count);
  const limit = pLimit(settings?.connectConcurrency ?? 16);
  returning = await Promise.all(
    offline.map((member) => limit(() => connectDevice(wsUrl, member.userId, member.token, 'tablet'))),
  );
}

/** Each returning device replays its inbox in pages, then acks each conversation up to the last seq it got. */
async function inboxReturnSync(): Promise<InboxReturnResult> {
  let replayed = 0;
  let syncs = 0;
  let acks = 0;
  // One device at a time, each device's receipts through the streams before the next comes back:
  // offline devices return hours apart, so their acks' receipts never share a batch.
  for (const device of returning) {
    let cursor: unknown;
    do {
      const synced = await device.request(
        { action: 'sync', pages: true, ...(cursor === undefined ? {} : { cursor }) },
        'syncComplete',
      );
      if (synced.type === 'error') throw new Error(`sync: ${JSON.stringify(synced)}`);
      syncs += 1;
      replayed += Number(synced.delivered);
      cursor = synced.cursor;
    } while (cursor !== undefined);
    for (const [conversationId, upToSeq] of device.lastSeq) {
      device.send({ action: 'ack', conversationId, upToSeq });
      acks += 1;
    }
    // Acks are answered only when refused: a ping behind them flushes the socket.
    const answer = await device.request({ action: 'ping' }, 'pong');
    if (answer.type === 'error') throw new Error(`ack: ${JSON.stringify(answer)}`);
    await stackSettled();
  }
  const groupPlans = connectPlan.filter((plan) => plan.conversation.workload === 'group');
  const offlineDevices = groupPlans.reduce((sum, plan) => sum + plan.offline.length, 0);
  return {
    offlineDevicesPerGroup: offlineDevices / Math.max(1, groupPlans.length),
    devices: returning.length,
    replayed,
    syncs,
    acks,
  };
}

async function inboxReturnClose(): Promise<void> {
  await Promise.all(returning.map((device) => device.close()));
  returning = [];
}

async function pings(count: number): Promise<void> {
  const [device] = (conversationsOf('direct')[0] as Conversation).devices as [Device];
  for (let i = 0; i < count; i++) {
    const answer = await device.request({ action: 'ping' }, 'pong');
    if (answer.type === 'error') throw new Error(`ping: ${JSON.stringify(answer)}`);
  }
}

/** One message per conversation of the workload, each delivered: the targets of the changes. */
async function changePrepare(workload: Workload): Promise<void> {
  const phase = new Phase(`${workload}-change-targets`);
  const limit = pLimit(16);
  await Promise.all(
    conversationsOf(workload).map((conversation, i) =>
      limit(async () => {
        const sender = senderFor(conversation, 0);
        const send = sendOne(phase, conversation, sender, `${phase.label}-${i}`);
        await Promise.race([send.done, sleep(15_000)]);
        if (send.state !== 'accepted' || send.seq === undefined) throw new Error(`${send.id}: not accepted`);
        conversation.changeTarget = { seq: send.seq, sender };
        conversation.changesMade = 0;
      }),
    ),
  );
  for (const send of phase.sends) sends.delete(send.id);
}

/** Reactions (by a member who did not send the target) or edits (by its sender), one at a time, each delivered. */
async function changeProbe(command: Extract<DriverCommand, { kind: 'changeProbe' }>): Promise<PhaseSent> {
  const targets = conversationsOf(command.workload).filter((conversation) => conversation.changeTarget !== undefined);
  if (targets.length === 0) throw new Error('changeProbe before changePrepare');
  const phase = new Phase(command.label);
  for (let i = 0; i < command.changes; i++) {
    const conversation = targets[i % targets.length] as Conversation;
    const target = conversation.changeTarget as { seq: number; sender: Device };
    const k = conversation.changesMade++;
    const id = `${command.label}-${i}`;
    let send: Send;
    if (command.change === 'edit') {
      const text = messageText(id, settings?.textLength ?? 100);
      send = sendFrame(phase, conversation, target.sender, id, { action: 'editMessage', seq: target.seq, text });
    } else {
      const others = conversation.devices.filter((device) => device.userId !== target.sender.userId);
      const actor = others[k % others.length] as Device;
      const emoji = reactionEmoji[k % reactionEmoji.length] as string;
      send = sendFrame(phase, conversation, actor, id, { action: 'react', seq: target.seq, emoji });
    }
    await Promise.race([send.done, sleep(command.drainTimeoutMs)]);
  }
  const sendSeconds = (performance.now() - phase.startedAt) / 1000;
  return finishSending(phase, command.workload, 'probe', sendSeconds, { change: command.change });
}

/** The workload's first conversation: its first device sends bursts, every other device receives them. */
function burstConversation(workload: Workload): { conversation: Conversation; sender: Device; receivers: Device[] } {
  const conversation = conversationsOf(workload)[0] as Conversation;
  const [sender, ...receivers] = conversation.devices as [Device, ...Device[]];
  return { conversation, sender, receivers };
}

/**
 * Receivers read up to `upToSeq` (the conversation's last accepted seq when not given): all of them,
 * or the one at `receiver`. A read is also the device's ack (the server clears its inbox and moves
 * the delivered mark with it), and the SDK sends no ack that a read it sent covers: a device that
 * reads what just arrived sends the read alone. A read is answered only when refused, so the bench
 * waits for the reads' invocations itself; answers how many reads went.
 */
function receiptReads(command: Extract<DriverCommand, { kind: 'receiptReads' }>): number {
  const { conversation, receivers } = burstConversation(command.workload);
  const upToSeq = command.upToSeq ?? Math.max(0, ...conversation.acceptedSeqs);
  if (upToSeq < 1) return 0;
  const readers = command.receiver === undefined ? receivers : [receivers[command.receiver] as Device];
  for (const device of readers) device.send({ action: 'read', conversationId: conversation.id, upToSeq });
  return readers.length;
}

/** Reads the receivers of the workload's burst conversation had refused so far. */
function receiptRefusals(workload: Workload): number {
  return burstConversation(workload).receivers.reduce((sum, device) => sum + device.refusedReads, 0);
}

/** `messages` sends one at a time by one device, each delivered to every other online device of the conversation. */
async function receiptBurst(command: Extract<DriverCommand, { kind: 'receiptBurst' }>): Promise<ReceiptBurstResult> {
  const { conversation, sender, receivers } = burstConversation(command.workload);
  const phase = new Phase(command.label);
  let last = 0;
  for (let m = 0; m < command.messages; m++) {
    const send = sendOne(phase, conversation, sender, `${command.label}-${m}`);
    await Promise.race([send.done, sleep(15_000)]);
    if (send.state !== 'accepted' || send.pending.size > 0) throw new Error(`${send.id}: not delivered`);
    last = send.seq ?? last;
    // Each message its own stream batch, as messages typed seconds apart are: how many shared one
    // otherwise depended on how fast this machine's fan-out ran, and moved the group's reads by a third.
    if (m + 1 < command.messages) await stackSettled();
  }
  for (const send of phase.sends) sends.delete(send.id);
  return { messages: command.messages, receivers: receivers.length, lastSeq: last };
}

async function createConversation(httpUrl: string, token: string, body: Record<string, unknown>): Promise<string> {
  const created = await api(httpUrl, token, 'POST', '/conversations', body);
  if (created.status >= 300)
    throw new Error(`create conversation: HTTP ${created.status} ${JSON.stringify(created.body)}`);
  return String(created.body.id);
}

interface Member {
  readonly userId: string;
  readonly token: string;
}

/** Who connects which device once every conversation exists (see `connect`). */
const connectPlan: { conversation: Conversation; online: [Member, string][]; offline: Member[] }[] = [];

/**
 * Users and conversations first, devices later: a fan-out racing a device's `$connect` can post before the
 * handshake completes, get 410 and delete the new connection's row (a finding of this benchmark), so the
 * creation events are left to finish before any device connects.
 */
async function setup(setupSettings: DriverSetup): Promise<SetupResult> {
  settings = setupSettings;
  random = mulberry32(7);
  const startedAt = performance.now();
  const { httpUrl } = setupSettings;
  const limit = pLimit(setupSettings.connectConcurrency);

  await Promise.all(
    Array.from({ length: setupSettings.pairs }, (_, i) =>
      limit(async () => {
        const [a, b] = await Promise.all([issueToken(httpUrl, `pair-a-${i}`), issueToken(httpUrl, `pair-b-${i}`)]);
        const id = await createConversation(httpUrl, a.token, { type: 'direct', memberIds: [b.userId] });
        const conversation: Conversation = {
          id,
          workload: 'direct',
          devices: [],
          offlineDevices: [],
          acceptedSeqs: [],
          changesMade: 0,
        };
        conversations[i] = conversation;
        connectPlan[i] = {
          conversation,
          online: [
            [a, 'phone'],
            [b, 'phone'],
          ],
          offline: [],
        };
      }),
    ),
  );

  const deviceIds = ['phone', 'laptop', 'tablet', 'watch'].slice(0, setupSettings.devicesPerOnlineMember);
  for (let g = 0; g < setupSettings.groups; g++) {
    const members = await Promise.all(
      Array.from({ length: setupSettings.groupSize }, (_, i) => limit(() => issueToken(httpUrl, `group-${g}-${i}`))),
    );
    const [creator, ...others] = members as [Member, ...Member[]];
    const id = await createConversation(httpUrl, creator.token, {
      type: 'group',
      name: `bench ${g}`,
      memberIds: others.map((member) => member.userId),
    });
    const onlineCount = Math.round(setupSettings.groupSize * setupSettings.groupOnlineShare);
    const online = members.slice(0, onlineCount);
    const offline = members.slice(onlineCount);
    const conversation: Conversation = {
      id,
      workload: 'group',
      devices: [],
      offlineDevices: offline.map((member) => ({ userId: member.userId, deviceId: 'tablet' })),
      acceptedSeqs: [],
      changesMade: 0,
    };
    conversations.push(conversation);
    connectPlan.push({
      conversation,
      online: online.flatMap((member) => deviceIds.map((deviceId): [Member, string] => [member, deviceId])),
      offline,
    });
  }
  return { onlineDevices: 0, offlineDevices: 0, seconds: (performance.now() - startedAt) / 1000 };
}

async function connect(): Promise<SetupResult> {
  const startedAt = performance.now();
  const wsUrl = settings?.wsUrl ?? '';
  const limit = pLimit(settings?.connectConcurrency ?? 16);
  let offlineCount = 0;
  for (const plan of connectPlan) {
    // Offline members connected once, so the backend knows a device to park their messages for.
    await Promise.all(
      plan.offline.map((member) =>
        limit(async () => (await connectDevice(wsUrl, member.userId, member.token, 'tablet')).close()),
      ),
    );
    offlineCount += plan.offline.length;
    const devices = await Promise.all(
      plan.online.map(([member, deviceId]) => limit(() => connectDevice(wsUrl, member.userId, member.token, deviceId))),
    );
    plan.conversation.devices.push(...devices);
  }
  allDevices.push(...new Set(conversations.flatMap((conversation) => conversation.devices)));
  return {
    onlineDevices: allDevices.length,
    offlineDevices: offlineCount,
    seconds: (performance.now() - startedAt) / 1000,
  };
}

async function receiptSend(label: string): Promise<ReceiptSendResult> {
  const conversation = conversationsOf('direct')[0] as Conversation;
  const phase = new Phase(label);
  const [sender] = conversation.devices as [Device, Device];
  const send = sendOne(phase, conversation, sender, label);
  await Promise.race([send.done, sleep(15_000)]);
  sends.delete(send.id);
  if (send.state !== 'accepted' || send.pending.size > 0) throw new Error(`${label}: not delivered`);
  return { conversationId: conversation.id, seq: conversation.acceptedSeqs.at(-1) as number };
}

let receiptFramesBefore = 0;

async function receiptAck(command: Extract<DriverCommand, { kind: 'receiptAck' }>): Promise<void> {
  const [sender, receiver] = pairDevices(command.conversationId);
  receiptFramesBefore = sender.receiptFrames;
  const frame = { action: command.action, conversationId: command.conversationId, upToSeq: command.seq };
  // An ack and a read are answered only when refused: the pong of a ping behind it on the socket stands in.
  receiver.send(frame);
  const answer = await receiver.request({ action: 'ping' }, 'pong');
  if (answer.type === 'error') throw new Error(`${command.action}: ${JSON.stringify(answer)}`);
}

async function receiptCount(conversationId: string): Promise<ReceiptAckResult> {
  const [sender] = pairDevices(conversationId);
  // Receipt posts finish before the acknowledgement is answered; a ping flushes the sender's socket.
  await sender.request({ action: 'ping' }, 'pong');
  return { receiptFramesToSender: sender.receiptFrames - receiptFramesBefore };
}

function pairDevices(conversationId: string): [Device, Device] {
  const conversation = conversations.find((c) => c.id === conversationId);
  if (conversation === undefined) throw new Error('unknown conversation');
  return conversation.devices as [Device, Device];
}

function groupLedger(): GroupLedger {
  return {
    groups: conversationsOf('group').map((conversation) => ({
      conversationId: conversation.id,
      acceptedSeqs: [...conversation.acceptedSeqs],
      offlineDevices: conversation.offlineDevices,
    })),
  };
}

async function handle(command: DriverCommand): Promise<unknown> {
  switch (command.kind) {
    case 'setup':
      return setup(command.setup);
    case 'connect':
      return connect();
    case 'openLoop':
      return openLoop(command);
    case 'closedLoop':
      return closedLoop(command);
    case 'probe':
      return probe(command);
    case 'changePrepare':
      return changePrepare(command.workload);
    case 'changeProbe':
      return changeProbe(command);
    case 'receiptReads':
      return receiptReads(command);
    case 'receiptRefusals':
      return receiptRefusals(command.workload);
    case 'receiptBurst':
      return receiptBurst(command);
    case 'inboxReturnConnect':
      return inboxReturnConnect(command.count);
    case 'inboxReturnSync':
      return inboxReturnSync();
    case 'inboxReturnClose':
      return inboxReturnClose();
    case 'pings':
      return pings(command.count);
    case 'reconnects':
      return reconnects(command.count);
    case 'receiptSend':
      return receiptSend(command.label);
    case 'receiptAck':
      return receiptAck(command);
    case 'receiptCount':
      return receiptCount(command.conversationId);
    case 'summarize':
      return summarizeSent();
    case 'groupLedger':
      return groupLedger();
    case 'close': {
      await Promise.all(allDevices.map((device) => device.close()));
      return { outOfOrderOutsidePhases: phaseOutOfOrderOutside };
    }
  }
}

/** A small seeded generator: the same run picks the same senders. */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const settleWaiters = new Map<number, () => void>();
let nextSettleId = 1;

/** Resolves once the main process has seen the stack settle (see {@link SettleRequest}). */
function stackSettled(): Promise<void> {
  const settleId = nextSettleId++;
  return new Promise<void>((resolve) => {
    settleWaiters.set(settleId, resolve);
    process.send?.({ settleId } satisfies SettleRequest);
  });
}

process.on('message', (message: DriverRequest | SettledReply) => {
  if ('settledId' in message) {
    settleWaiters.get(message.settledId)?.();
    settleWaiters.delete(message.settledId);
    return;
  }
  const request = message;
  handle(request.command).then(
    (result) => reply({ id: request.id, ok: true, result }),
    (error: unknown) =>
      reply({
        id: request.id,
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
  );
});
// The main process going away (Ctrl-C, a crash) takes the driver with it.
process.on('disconnect', () => process.exit(0));

function reply(response: DriverResponse): void {
  process.send?.(response);
}
