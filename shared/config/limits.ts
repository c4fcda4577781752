/** Product limits and tuning knobs, declared once for handlers, CDK and the local stack. */
export const limits = {
  /** Characters of message text (a 32 KB WebSocket frame holds this with room to spare). */
  maxTextLength: 4000,
  maxClientMessageIdLength: 64,
  maxGroupMembers: 100,
  maxGroupNameLength: 100,
  /** Client-chosen device ids: short, URL-safe. */
  deviceIdPattern: /^[A-Za-z0-9_-]{1,64}$/,
  /** API Gateway closes a WebSocket after 2 hours; keep rows a little longer, then let TTL reap them. */
  connectionTtlSeconds: 2 * 60 * 60 + 15 * 60,
  /** Parked messages wait this long for their device (Signal and WhatsApp keep 30 days). */
  inboxRetentionDays: 30,
  /** Concurrent postToConnection calls per fan-out invocation. */
  postConcurrency: 64,
  /** Sockets for the management API client (the SDK default of 50 would queue fan-out). */
  managementApiMaxSockets: 128,
  /** Inbox items read per Query page during sync. */
  syncPageSize: 100,
  /** How long a send may wait for its seq before it answers `conflict` (API Gateway waits 29 s). */
  seqAllocationBudgetMs: 10_000,
  /** A queued seq whose holder made no progress for this long is presumed abandoned and filled with a void. */
  seqStallTimeoutMs: 3_000,
} as const;
