/** Stable error codes of the wire contract (WebSocket `error.code`, HTTP `error.code`). */
export const errorCodes = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  /** A username that looks like another user's (the same UTS #39 skeleton): details.lookAlikeOf names it. */
  username_confusable: 409,
  /** A user named for a group does not let the caller add them (their `groupAdds` setting): details.userIds. */
  add_not_allowed: 403,
  /** A push subscription whose endpoint is not a known push service (shared/config/push.ts). */
  push_endpoint_not_allowed: 400,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof errorCodes;

/** A failure the caller may see: its code and message go on the wire as they are. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    if (details !== undefined) this.details = details;
  }

  get httpStatus(): number {
    return errorCodes[this.code];
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('bad_request', message, details);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication required') {
    super('unauthorized', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'Not allowed') {
    super('forbidden', message);
  }
}

/** Also what a non-member gets for a conversation that exists: no probing for ids. */
export class NotFoundError extends AppError {
  constructor(message = 'Not found') {
    super('not_found', message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super('conflict', message);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('payload_too_large', message, details);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('unsupported_media_type', message, details);
  }
}
