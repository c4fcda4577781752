/** HTTP message routes (docs/protocol.md, HTTP API): bodies, paths and queries, validated with zod at the edge. */
import * as z from 'zod';
import {
  attachmentIdsSchema,
  clientMessageIdSchema,
  contentRule,
  emojiSchema,
  idSchema,
  messageSeqSchema,
  messageTextSchema,
  seqSchema,
} from './frames';
import { hasContent } from './text-rules';

const messagePageLimits = { default: 50, max: 100 } as const;

export const sendMessageBodySchema = z
  .object({
    clientMessageId: clientMessageIdSchema,
    text: z.optional(messageTextSchema),
    attachmentIds: z.optional(attachmentIdsSchema),
    /** The seq of the message this one answers. */
    replyTo: z.optional(messageSeqSchema),
  })
  .refine(hasContent, contentRule);

/** `PATCH /messages/{id}`: the new text; with a clientMessageId, a retry answers the edit it made. */
export const editMessageBodySchema = z.object({
  text: messageTextSchema,
  clientMessageId: z.optional(clientMessageIdSchema),
});

/** `POST /messages/{id}/reactions`: one emoji, added (or taken back with `remove`). */
export const reactBodySchema = z.object({
  emoji: emojiSchema,
  remove: z.optional(z.boolean()),
  clientMessageId: z.optional(clientMessageIdSchema),
});

export const messagePathSchema = z.object({ id: idSchema });

/** Decimal digits only: `Number()` alone would also take '', ' 7', '1e3' and '0x10'. */
const decimalParam = (digits: number) =>
  z
    .string()
    .regex(new RegExp(`^\\d{1,${digits}}$`), 'must be a non-negative integer')
    .transform(Number);

const seqParamSchema = decimalParam(16).pipe(seqSchema);

const limitParamSchema = decimalParam(3).pipe(z.number().int().min(1).max(messagePageLimits.max));

/** Cursors are base64url; anything else cannot be one. */
const cursorParamSchema = z
  .string()
  .min(1)
  .max(300)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor from a previous page');

/**
 * `after`, `before` or `cursor` (at most one) picks where the page starts; none: the newest page.
 * Unknown parameters are refused, so a typo (`afer=5`) cannot silently answer the newest page.
 */
export const listMessagesQuerySchema = z
  .strictObject({
    after: seqParamSchema.optional(),
    before: seqParamSchema.optional(),
    cursor: cursorParamSchema.optional(),
    limit: limitParamSchema.default(messagePageLimits.default),
  })
  .refine((query) => query.after === undefined || query.before === undefined, 'after and before cannot be combined')
  .refine(
    (query) => query.cursor === undefined || (query.after === undefined && query.before === undefined),
    'cursor cannot be combined with after or before',
  )
  .transform(({ limit, ...position }) => ({ limit, start: pageStartOf(position) }));

function pageStartOf(position: { after?: number; before?: number; cursor?: string }) {
  if (position.cursor !== undefined) return { kind: 'cursor', cursor: position.cursor } as const;
  if (position.after !== undefined) return { kind: 'after', seq: position.after } as const;
  if (position.before !== undefined) return { kind: 'before', seq: position.before } as const;
  return { kind: 'newest' } as const;
}
