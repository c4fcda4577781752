/** Product limits and tuning knobs, declared once for handlers, CDK and the local stack. */
export const limits = {
  /** Characters of message text (a 32 KB WebSocket frame holds this with room to spare). */
  maxTextLength: 4000,
  /**
   * Messages one `sendMessages` frame may carry (a burst committed in one transaction: 2 items each
   * plus the conversation's, within TransactWriteItems' 100). Text only, and the frame within 32 KB.
   */
  maxMessagesPerSend: 25,
  maxClientMessageIdLength: 64,
  /** How long after sending the sender may edit a message (deleting has no window). */
  editWindowMs: 15 * 60 * 1000,
  /** Distinct emoji one message may carry; each user reacts at most once per emoji. */
  maxReactionKinds: 20,
  /** Characters of the replied-to message's text a reply carries as its preview. */
  replyPreviewLength: 100,
  maxGroupMembers: 100,
  maxGroupNameLength: 100,
  /** Profile fields shown to everyone who sees the user. */
  userProfile: {
    maxNameLength: 80,
    minUsernameLength: 3,
    maxUsernameLength: 32,
    /** RFC 5321's limit on a forward path. */
    maxEmailLength: 254,
  },
  /** Client-chosen device ids: short, URL-safe. */
  deviceIdPattern: /^[A-Za-z0-9_-]{1,64}$/,
  /** API Gateway closes a WebSocket after 2 hours; keep rows a little longer, then let TTL reap them. */
  connectionTtlSeconds: 2 * 60 * 60 + 15 * 60,
  /**
   * `$connect` writes the connection row before API Gateway opens the socket, and a post in between
   * answers 410 like a dead one: a row younger than this is kept on a 410 (the message is parked anyway).
   */
  connectionHandshakeGraceSeconds: 5,
  /** Parked messages wait this long for their device (Signal and WhatsApp keep 30 days). */
  inboxRetentionDays: 30,
  /**
   * Direct delivery (the fast path): the send posts a message to its recipients' live connections
   * itself, and records which devices took it; the stream's fan-out skips exactly those.
   */
  directDelivery: {
    /** Conversations of at most this many members take the fast path; 0 turns it off. */
    maxMembers: 100,
    /**
     * A post slower than this is left to the stream (if it lands anyway, the device drops the repeat).
     * Far above a healthy post (tens of ms), so only a stuck one delays the sender's answer this long.
     */
    postTimeoutMs: 1_000,
    /** The record of devices reached outlives any stream delay; then TTL reaps it. */
    recordTtlSeconds: 60 * 60,
  },
  /** Receipts in one `receipts` frame: about 150 bytes each, so a frame stays well within 32 KB. */
  receiptsPerFrame: 150,
  /** Concurrent postToConnection calls per fan-out invocation. */
  postConcurrency: 64,
  /** Sockets for the management API client (the SDK default of 50 would queue fan-out). */
  managementApiMaxSockets: 128,
  /**
   * A sync stops replaying (and answers with a cursor) once its invocation has less time left than
   * this: API Gateway cuts WebSocket integrations at 29 s, and one more page of posts must still fit.
   */
  syncAnswerReserveMs: 8_000,
  /** Inbox items read per Query page during sync. */
  syncPageSize: 100,
  /**
   * Most bytes of one `messages` frame of a paged sync: API Gateway's frame size and its billing unit,
   * so a page of replayed messages costs one billed message where a frame each cost one per message.
   */
  syncFrameMaxBytes: 32 * 1024,
  /** How long a send may wait for its seq before it answers `conflict` (API Gateway waits 29 s). */
  seqAllocationBudgetMs: 10_000,
  /**
   * A queued seq whose holder made no progress for this long is presumed abandoned: its parked send is
   * committed, or a void fills it. Also how long a writer committing a queue's runs holds it.
   */
  seqStallTimeoutMs: 3_000,
  /** A connect ticket opens one WebSocket within this many seconds of being issued, then never again. */
  connectTicketTtlSeconds: 30,
  /** Random bytes per connect ticket (256 bits, 43 base64url characters). */
  connectTicketBytes: 32,
  /** Devices one user may connect; an 11th distinct device id is refused at `$connect` (403). */
  maxDevicesPerUser: 10,
  /** Devices unseen for this long stop counting towards the limit (their inbox has expired by then too). */
  deviceActivityWindowDays: 30,
  /**
   * Conversations one user may create per day (UTC), groups and direct chats together; more answer
   * `rate_limited`. A person starts a handful; this stops a script filling others' lists with groups.
   */
  conversationCreationLimit: { windowSeconds: 24 * 60 * 60, maxSends: 100, leaseSends: 5 },
  /**
   * Conversations one user may create per fixed 10-minute window, beside the daily cap: a person starts
   * a few chats in a sitting, while a script's burst (30 groups in half a second) would fill the members'
   * lists before the daily cap bites. Leases of 2 keep the limiter at one write per two creations; a
   * creator whose requests land on many warm handlers is refused early, after 5 at worst, never late.
   */
  conversationCreationBurst: { windowSeconds: 10 * 60, maxSends: 10, leaseSends: 2 },
  /**
   * Per-user sends (WebSocket and HTTP together), and every other write that puts an event in a
   * timeline (creating a conversation, renaming, adding and removing members), per fixed window;
   * more answer `rate_limited`.
   * 30/s sustained, bursts of 300: far above a person or an offline queue's flush, so it only stops
   * runaway or hostile clients from buying unbounded writes and fan-out with one account.
   */
  sendRateLimit: {
    windowSeconds: 10,
    maxSends: 300,
    /**
     * A warm handler takes this many sends of the window in one write and spends them from memory, so
     * most sends pay no write and wait on none; a handler that goes cold strands at most this many less one.
     */
    leaseSends: 10,
  },
  /**
   * Finding people by username (`GET /users?username=`): results per page, and searches per user per
   * window, so one account cannot read the directory out quickly (a 3-letter prefix per second at most).
   */
  userSearch: { pageSize: 20, windowSeconds: 60, maxSearches: 60, leaseSearches: 5 },
  /** API Gateway stage default route throttling (requests per second and burst), per stage. */
  stageThrottling: {
    /** Headroom under the 10,000 RPS account quota the WebSocket API, the HTTP API and postToConnection share. */
    webSocket: { rateLimit: 1_000, burstLimit: 2_000 },
    http: { rateLimit: 200, burstLimit: 400 },
  },
  /**
   * A send into a conversation where a run of queued sends committed less than this ago (or whose
   * sends queue now) queues for its seq at once instead of first trying the optimistic commit, which
   * would most likely fail there: a hot conversation's sends then cost no failed transactions.
   */
  seqQueueAfterRunMs: 250,
  /** Users one connection may watch (`subscribePresence`): one frame's list replaces the last. */
  maxPresenceSubscriptions: 100,
  /**
   * At most one `typing` frame per sender and conversation is forwarded per this window; the rest are
   * dropped silently (a client keeps sending while the person types). Clients show "typing" a little longer.
   */
  typingWindowMs: 3_000,
} as const;
