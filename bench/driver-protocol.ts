/**
 * What the benchmark's main process (the stack, the meters) and the device driver (a child process
 * holding every WebSocket client) say to each other over the IPC channel. The devices live in their
 * own process, as real devices would: their frame handling neither slows the stack nor waits on it.
 */

export type Workload = 'direct' | 'group';

/** Changes to an earlier message the bench prices (issue 17): a reaction and an edit. */
export type ChangeKind = 'react' | 'edit';

export interface DriverSetup {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly pairs: number;
  readonly groups: number;
  readonly groupSize: number;
  readonly groupOnlineShare: number;
  readonly devicesPerOnlineMember: number;
  readonly connectConcurrency: number;
  readonly textLength: number;
}

export interface SetupResult {
  readonly onlineDevices: number;
  /** Devices the backend knows (they connected once) that stay offline: fan-out parks for them. */
  readonly offlineDevices: number;
  readonly seconds: number;
}

export type DriverCommand =
  /** Users and conversations (no device connects yet). */
  | { readonly kind: 'setup'; readonly setup: DriverSetup }
  /** Every device: online ones stay connected, offline ones connect once and leave. */
  | { readonly kind: 'connect' }
  /** Sends at a fixed rate whatever the answers (open loop), spread over every conversation of the workload. */
  | {
      readonly kind: 'openLoop';
      readonly workload: Workload;
      readonly label: string;
      readonly rate: number;
      readonly seconds: number;
      readonly drainTimeoutMs: number;
    }
  /** Lanes that each send and wait until every recipient device has the message (closed loop). */
  | {
      readonly kind: 'closedLoop';
      readonly workload: Workload;
      readonly label: string;
      readonly lanesPerConversation: number;
      /** Only the first this many conversations of the workload take part. */
      readonly conversations: number;
      readonly seconds: number;
      readonly drainTimeoutMs: number;
    }
  /**
   * One message at a time, each waited for on every online recipient device, and the next sent once the
   * stack has settled (a {@link SettleRequest}): latency and fan-out time unloaded.
   */
  | {
      readonly kind: 'probe';
      readonly workload: Workload;
      readonly label: string;
      readonly messages: number;
      readonly drainTimeoutMs: number;
    }
  /** A 1:1 message the receiver then acknowledges (`receiptAck`); answers where it landed. */
  | { readonly kind: 'receiptSend'; readonly label: string }
  | {
      readonly kind: 'receiptAck';
      readonly action: 'ack' | 'read';
      readonly conversationId: string;
      readonly seq: number;
    }
  /** One message per conversation of the workload, waited for: what the changes of `changeProbe` target (not measured). */
  | { readonly kind: 'changePrepare'; readonly workload: Workload }
  /**
   * Changes one at a time, each waited for on every online member device but the actor's: a reaction by a
   * recipient (a different emoji each time) or an edit by the target's sender.
   */
  | {
      readonly kind: 'changeProbe';
      readonly workload: Workload;
      readonly change: ChangeKind;
      readonly label: string;
      readonly changes: number;
      readonly drainTimeoutMs: number;
    }
  /**
   * A burst: `messages` sends one at a time by one device into the workload's first conversation,
   * each delivered to every other online device there (its receivers), and its fan-out done before
   * the next goes (each message its own stream batch).
   */
  | {
      readonly kind: 'receiptBurst';
      readonly workload: Workload;
      readonly label: string;
      readonly messages: number;
    }
  /**
   * The burst conversation's receivers read (which acks too: the SDK sends no ack that a read covers)
   * up to `upToSeq`, else its last accepted seq: all of them, or the one at index `receiver`. Answers
   * how many reads went; the server answers a read only when it refuses it.
   */
  | {
      readonly kind: 'receiptReads';
      readonly workload: Workload;
      readonly upToSeq?: number;
      readonly receiver?: number;
    }
  /** How many reads the burst conversation's receivers have had refused so far. */
  | { readonly kind: 'receiptRefusals'; readonly workload: Workload }
  /** `count` keep-alive pings from one device, each answered before the next. */
  | { readonly kind: 'pings'; readonly count: number }
  /** `count` devices reconnect as the SDK does (close; connect ticket; connect with it; sync until syncComplete). */
  | { readonly kind: 'reconnects'; readonly count: number }
  /** `count` of the groups' offline devices connect (not yet syncing): their inboxes hold what the groups sent. */
  | { readonly kind: 'inboxReturnConnect'; readonly count: number }
  /**
   * The connected offline devices sync as the SDK does (pages, until no cursor), ack each conversation
   * up to the last seq replayed, flush with a ping; then stay connected until `inboxReturnClose`.
   */
  | { readonly kind: 'inboxReturnSync' }
  | { readonly kind: 'inboxReturnClose' }
  /** Flushes the sender's socket with a ping, then counts the receipts it got since the last `receiptAck`. */
  | { readonly kind: 'receiptCount'; readonly conversationId: string }
  /** The last phase's result, asked for once the stack is quiet: a delivery missing then is lost, not late. */
  | { readonly kind: 'summarize' }
  /** Accepted seqs per group conversation and the offline devices expected to hold them in their inbox. */
  | { readonly kind: 'groupLedger' }
  | { readonly kind: 'close' };

export interface PhaseResult {
  readonly label: string;
  readonly workload: Workload;
  readonly mode: 'openLoop' | 'closedLoop' | 'probe';
  /** Set when the phase sent changes to earlier messages instead of messages. */
  readonly change?: ChangeKind;
  readonly targetRate?: number;
  readonly lanes?: number;
  /** From the first send until the last delivery (or the drain timeout). */
  readonly seconds: number;
  readonly sendSeconds: number;
  readonly sent: number;
  readonly accepted: number;
  readonly sendErrors: number;
  readonly sendErrorCodes: readonly string[];
  /** Accepted messages times the online devices that should get each (every member device but the sender's). */
  readonly expectedDeliveries: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicates: number;
  /** Arrivals with a seq not above the last one the same device had for that conversation. */
  readonly outOfOrder: number;
  /** Messages that reached every online recipient device. */
  readonly completeMessages: number;
  /** From the first send to the last message reaching its last recipient (lost messages' waits excluded). */
  readonly secondsToLastCompletion: number;
  /** Up to ten messages some online recipient never got: where to start looking. */
  readonly lostSamples: readonly {
    readonly clientMessageId: string;
    readonly conversationId: string;
    readonly seq: number;
    readonly missingOn: readonly string[];
  }[];
  /** Send to arrival, one entry per delivery. */
  readonly latenciesMs: readonly number[];
  /** Send to the last online recipient device, one entry per complete message. */
  readonly fanOutMs: readonly number[];
  /** Send to the first online recipient device, one entry per message that reached any. */
  readonly firstDeviceMs: readonly number[];
  /** Send to the sender's `messageAccepted`, one entry per accepted message. */
  readonly acceptedMs: readonly number[];
  /** Open loop: how late the driver itself got to a scheduled send (it should stay near zero). */
  readonly maxScheduleLagMs: number;
  readonly driverCpuMs: number;
}

/** What a phase command answers when its sending (and its wait for deliveries) is over. */
export interface PhaseSent {
  readonly sent: number;
  /** Messages still missing on some device when the driver stopped waiting. */
  readonly incomplete: number;
}

export interface ReceiptBurstResult {
  readonly messages: number;
  /** Devices that read (every online device of the conversation but the sender's). */
  readonly receivers: number;
  /** The burst's last seq: what its receivers read up to. */
  readonly lastSeq: number;
}

export interface ReceiptSendResult {
  readonly conversationId: string;
  readonly seq: number;
}

export interface ReceiptAckResult {
  /** `receipt` frames the sender's device got for this acknowledgement. */
  readonly receiptFramesToSender: number;
}

export interface GroupLedger {
  readonly groups: readonly {
    readonly conversationId: string;
    readonly acceptedSeqs: readonly number[];
    readonly offlineDevices: readonly { readonly userId: string; readonly deviceId: string }[];
  }[];
}

export type DriverRequest = { readonly id: number; readonly command: DriverCommand };
export type DriverResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/**
 * The driver asks the main process to wait until the stack has finished what the last message
 * started (its stream fan-out above all): on AWS that work runs in other environments, here it
 * would share the machine's cores with the next message. Answered with a {@link SettledReply}, at a
 * random point of the stream poller's cycle.
 */
export type SettleRequest = { readonly settleId: number };
export type SettledReply = { readonly settledId: number };

/** What the offline devices' return replayed: the messages their syncs delivered, over how many syncs and acks. */
export interface InboxReturnResult {
  /** Offline devices per group as set up: the copies each group message parks. */
  readonly offlineDevicesPerGroup: number;
  readonly devices: number;
  readonly replayed: number;
  readonly syncs: number;
  readonly acks: number;
}
