/** Errors the SDK throws, rejects with, or emits as `error` events. */

/** An HTTP call answered with an error: Parley's `{error:{code,message,details}}` or API Gateway's own `{message}`. */
export class ParleyApiError extends Error {
  override readonly name = 'ParleyApiError';
  readonly status: number;
  readonly code: string;
  readonly details?: Record<string, unknown>;

  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

/** An `error` frame from the WebSocket API (a refused send, read or sync). */
export class ParleyServerError extends Error {
  override readonly name = 'ParleyServerError';
  readonly code: string;
  readonly action?: string;
  readonly clientMessageId?: string;
  readonly details?: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    extra: { action?: string; clientMessageId?: string; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.code = code;
    if (extra.action !== undefined) this.action = extra.action;
    if (extra.clientMessageId !== undefined) this.clientMessageId = extra.clientMessageId;
    if (extra.details !== undefined) this.details = extra.details;
  }
}

export type ParleyClientErrorCode =
  /** The client was closed before the operation finished. */
  | 'closed'
  /** A connection attempt failed or a live connection was lost; the client keeps reconnecting. */
  | 'connection_failed'
  /** Seqs that history could not supply were skipped so later messages are not held back forever. */
  | 'gap_unfilled'
  /** A frame that is not JSON or not a known shape. */
  | 'bad_frame'
  /** An event listener threw; the SDK carried on. */
  | 'listener_failed';

/** Something on the client side went wrong; `cause` holds the underlying error when there is one. */
export class ParleyClientError extends Error {
  override readonly name = 'ParleyClientError';
  readonly code: ParleyClientErrorCode;

  constructor(code: ParleyClientErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

export type ParleyUploadFailure = 'upload_failed' | 'rejected' | 'timeout';

/** An upload that did not end `ready`: the PUT failed, processing rejected the file, or it took too long. */
export class ParleyUploadError extends Error {
  override readonly name = 'ParleyUploadError';
  readonly reason: ParleyUploadFailure;
  readonly attachmentId: string;
  /** Why processing refused it, for `rejected`. */
  readonly rejection?: string;
  /** The storage service's HTTP status, for `upload_failed` when it answered. */
  readonly status?: number;

  constructor(
    reason: ParleyUploadFailure,
    attachmentId: string,
    message: string,
    extra: { rejection?: string; status?: number } = {},
  ) {
    super(message);
    this.reason = reason;
    this.attachmentId = attachmentId;
    if (extra.rejection !== undefined) this.rejection = extra.rejection;
    if (extra.status !== undefined) this.status = extra.status;
  }
}
