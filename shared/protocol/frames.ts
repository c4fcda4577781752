/**
 * The WebSocket wire contract (docs/protocol.md): client frames validated with zod at the edge,
 * and the server frames Parley pushes. Fields may be added; existing ones hold.
 */
import * as z from 'zod';
import { limits } from '../config/limits';
import { media } from '../config/media';
import type { ErrorCode } from '../errors';
import type { Message, ReceiptKind } from '../model';

export const idSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'must be URL-safe');

export const clientMessageIdSchema = z
  .string()
  .min(1)
  .max(limits.maxClientMessageIdLength)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'must be URL-safe');

/** A lone UTF-16 surrogate has no UTF-8 form: strict JSON decoders (Swift, Rust) reject the whole frame or page holding it. */
const loneSurrogate = /\p{Cs}/u;

/** For text every member's client decodes: well-formed Unicode only. */
export const isWellFormedText = (text: string) => !loneSurrogate.test(text);

export const notWellFormed = 'must be valid Unicode (no lone surrogates)';

export const messageTextSchema = z
  .string()
  .max(limits.maxTextLength, `text is limited to ${limits.maxTextLength} characters`)
  .refine(isWellFormedText, notWellFormed);

export const attachmentIdsSchema = z
  .array(idSchema)
  .min(1)
  .max(media.maxAttachmentsPerMessage, `a message carries at most ${media.maxAttachmentsPerMessage} attachments`);

/** A message says something: non-blank text, or attachments (then text may be absent or empty). */
export const hasContent = (content: { text?: string | undefined; attachmentIds?: readonly string[] | undefined }) =>
  (content.text ?? '').trim().length > 0 || (content.attachmentIds?.length ?? 0) > 0;

export const contentRule = { message: 'text must not be blank unless attachments are sent', path: ['text'] };

export const seqSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const sendMessageFrameSchema = z
  .object({
    action: z.literal('sendMessage'),
    conversationId: idSchema,
    clientMessageId: clientMessageIdSchema,
    text: messageTextSchema.optional(),
    attachmentIds: attachmentIdsSchema.optional(),
  })
  .refine(hasContent, contentRule);

export const syncFrameSchema = z.object({
  action: z.literal('sync'),
  /** Continues a replay that answered `syncComplete` with a cursor (an inbox position: id characters and `#`). */
  cursor: z
    .string()
    .min(1)
    .max(300)
    .regex(/^[A-Za-z0-9_.:#-]+$/, 'must be a cursor from syncComplete')
    .optional(),
});

export const ackFrameSchema = z.object({
  action: z.literal('ack'),
  conversationId: idSchema,
  upToSeq: seqSchema,
});

export const readFrameSchema = z.object({
  action: z.literal('read'),
  conversationId: idSchema,
  upToSeq: seqSchema,
});

export const pingFrameSchema = z.object({ action: z.literal('ping') });

export type SendMessageFrame = z.infer<typeof sendMessageFrameSchema>;
export type AckFrame = z.infer<typeof ackFrameSchema>;

export type ServerFrame =
  | { readonly type: 'message'; readonly message: Message }
  | { readonly type: 'messageAccepted'; readonly clientMessageId: string; readonly message: Message }
  | { readonly type: 'syncComplete'; readonly delivered: number; readonly cursor?: string }
  | { readonly type: 'acked'; readonly conversationId: string; readonly upToSeq: number; readonly removed: number }
  | { readonly type: 'readAcked'; readonly conversationId: string; readonly upToSeq: number }
  | { readonly type: 'pong' }
  | {
      readonly type: 'receipt';
      readonly conversationId: string;
      readonly userId: string;
      readonly kind: ReceiptKind;
      readonly upToSeq: number;
      readonly at: string;
    }
  | {
      readonly type: 'error';
      readonly code: ErrorCode;
      readonly message: string;
      readonly clientMessageId?: string;
      readonly action?: string;
      readonly details?: Readonly<Record<string, unknown>>;
    };
