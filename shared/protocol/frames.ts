/**
 * The WebSocket wire contract (docs/protocol.md): client frames validated with zod at the edge,
 * and the server frames Parley pushes. Fields may be added; existing ones hold.
 *
 * Written with zod/mini's named imports, which bundle only what is used: the hot WebSocket handlers
 * import these, and classic zod would add about 30 ms to their cold start. The HTTP schemas embed
 * the shared ones below in classic zod; both build on zod's one core, so they mix.
 */

import { en } from 'zod/locales';
import {
  array,
  boolean,
  config,
  int,
  literal,
  maximum,
  maxLength,
  minLength,
  nonnegative,
  normalize,
  number,
  object,
  optional,
  type output,
  overwrite,
  positive,
  refine,
  regex,
  string,
} from 'zod/mini';
import { limits } from '../config/limits';
import { media } from '../config/media';
import type { ErrorCode } from '../errors';
import type { Message, ReceiptKind } from '../model';
import {
  canonicalEmoji,
  emojiRuleMessage,
  hasContent,
  hasNoBidiControls,
  hasNoControlsInText,
  isVisible,
  isWellFormed,
  textRuleMessages,
} from './text-rules';

// zod/mini loads no locale; classic zod sets this same one, so messages read alike wherever a frame is refused.
config(en());

export const idSchema = string().check(minLength(1), maxLength(128), regex(/^[A-Za-z0-9_.:-]+$/, 'must be URL-safe'));

export const clientMessageIdSchema = string().check(
  minLength(1),
  maxLength(limits.maxClientMessageIdLength),
  regex(/^[A-Za-z0-9_.:-]+$/, 'must be URL-safe'),
);

/** Message text as shared/protocol/text-rules.ts allows it, stored in NFC. */
export const messageTextSchema = string().check(
  maxLength(limits.maxTextLength, `text is limited to ${limits.maxTextLength} characters`),
  refine(isWellFormed, textRuleMessages.loneSurrogate),
  refine(hasNoControlsInText, textRuleMessages.control),
  refine(hasNoBidiControls, textRuleMessages.bidiControl),
  normalize('NFC'),
);

export const attachmentIdsSchema = array(idSchema).check(
  minLength(1),
  maxLength(media.maxAttachmentsPerMessage, `a message carries at most ${media.maxAttachmentsPerMessage} attachments`),
);

/** A message says something: non-blank text, or attachments (then text may be absent or empty). */
export const contentRule = {
  message: 'text must hold something visible unless attachments are sent',
  path: ['text'],
};

export const seqSchema = number().check(int(), nonnegative(), maximum(Number.MAX_SAFE_INTEGER));

/** A message's seq as a request names it (seq 0 holds nothing). */
export const messageSeqSchema = number().check(int(), positive(), maximum(Number.MAX_SAFE_INTEGER));

export const sendMessageFrameSchema = object({
  action: literal('sendMessage'),
  conversationId: idSchema,
  clientMessageId: clientMessageIdSchema,
  text: optional(messageTextSchema),
  attachmentIds: optional(attachmentIdsSchema),
  /** The seq of the message this one answers. */
  replyTo: optional(messageSeqSchema),
  /**
   * The sender's view of a direct chat, from an earlier `messageAccepted`: the other member and the
   * newest seq the device knows. With it a text send commits without reading the conversation first;
   * the commit checks the view, and a stale or wrong one only sends the message the usual way.
   */
  directChat: optional(object({ peerId: idSchema, afterSeq: seqSchema })),
}).check(refine(hasContent, contentRule));

/** One emoji (a single grapheme cluster that is an RGI emoji), stored in its emoji presentation. */
export const emojiSchema = string().check(
  refine((text: string) => canonicalEmoji(text) !== undefined, emojiRuleMessage),
  overwrite((text: string) => canonicalEmoji(text) ?? text),
);

/**
 * Changes to an earlier message. `clientMessageId` is optional: with it, a retry answers the change
 * first stored for it instead of making another (the SDK always sends one).
 */
export const editMessageFrameSchema = object({
  action: literal('editMessage'),
  conversationId: idSchema,
  seq: messageSeqSchema,
  text: messageTextSchema,
  clientMessageId: optional(clientMessageIdSchema),
});

export const deleteMessageFrameSchema = object({
  action: literal('deleteMessage'),
  conversationId: idSchema,
  seq: messageSeqSchema,
  clientMessageId: optional(clientMessageIdSchema),
});

export const reactFrameSchema = object({
  action: literal('react'),
  conversationId: idSchema,
  seq: messageSeqSchema,
  emoji: emojiSchema,
  /** Takes the caller's reaction with this emoji back. */
  remove: optional(boolean()),
  clientMessageId: optional(clientMessageIdSchema),
});

/** A burst of text messages to one conversation, committed in the order given at consecutive seqs. */
export const sendMessagesFrameSchema = object({
  action: literal('sendMessages'),
  conversationId: idSchema,
  messages: array(
    object({
      clientMessageId: clientMessageIdSchema,
      text: messageTextSchema.check(refine(isVisible, textRuleMessages.invisible)),
    }),
  ).check(
    minLength(1),
    maxLength(limits.maxMessagesPerSend),
    refine(
      (messages: readonly { clientMessageId: string }[]) =>
        new Set(messages.map((message) => message.clientMessageId)).size === messages.length,
      'clientMessageIds must be distinct',
    ),
  ),
});

export const syncFrameSchema = object({
  action: literal('sync'),
  /** Continues a replay that answered `syncComplete` with a cursor (an inbox position: id characters and `#`). */
  cursor: optional(
    string().check(minLength(1), maxLength(300), regex(/^[A-Za-z0-9_.:#-]+$/, 'must be a cursor from syncComplete')),
  ),
  /** Replay as `messages` frames, many messages to a frame, rather than a `message` frame each. */
  pages: optional(boolean()),
});

export const ackFrameSchema = object({
  action: literal('ack'),
  conversationId: idSchema,
  upToSeq: seqSchema,
});

export const readFrameSchema = object({
  action: literal('read'),
  conversationId: idSchema,
  upToSeq: seqSchema,
});

export const pingFrameSchema = object({ action: literal('ping') });

/** A user id as frames name one (the same rule as the HTTP paths'). */
export const userIdFrameSchema = string().check(
  minLength(1),
  maxLength(128),
  regex(/^[A-Za-z0-9_-]+$/, 'must be a user id'),
);

/**
 * The users whose presence this connection wants pushed (`presence` frames): the whole list, replacing
 * the last one; empty stops them all. Answered with each allowed user's presence now.
 */
export const subscribePresenceFrameSchema = object({
  action: literal('subscribePresence'),
  userIds: array(userIdFrameSchema).check(
    maxLength(limits.maxPresenceSubscriptions, `at most ${limits.maxPresenceSubscriptions} users`),
    refine((userIds: readonly string[]) => new Set(userIds).size === userIds.length, 'userIds must be distinct'),
  ),
});

/** The caller is typing in a conversation: forwarded to the other members' online devices, never stored. */
export const typingFrameSchema = object({
  action: literal('typing'),
  conversationId: idSchema,
});

export type SendMessageFrame = output<typeof sendMessageFrameSchema>;
export type SendMessagesFrame = output<typeof sendMessagesFrameSchema>;
export type AckFrame = output<typeof ackFrameSchema>;
export type EditMessageFrame = output<typeof editMessageFrameSchema>;
export type DeleteMessageFrame = output<typeof deleteMessageFrameSchema>;
export type ReactFrame = output<typeof reactFrameSchema>;

/** `userId` reached `upToSeq` in the conversation (`at`: when first), delivered or read. */
export interface ReceiptEntry {
  readonly conversationId: string;
  readonly userId: string;
  readonly kind: ReceiptKind;
  readonly upToSeq: number;
  readonly at: string;
}

/** A user's presence as another user may see it: `lastSeenAt` null while online, hidden or never seen. */
export interface PresenceState {
  readonly userId: string;
  readonly online: boolean;
  readonly lastSeenAt: string | null;
}

export type ServerFrame =
  | { readonly type: 'message'; readonly message: Message }
  /** A page of a `sync` replay (asked for with `pages`): messages in inbox order, at most one frame's bytes. */
  | { readonly type: 'messages'; readonly messages: readonly Message[] }
  /** A send, or a change (edit, delete, reaction; its clientMessageId echoed when it had one), stored. */
  | {
      readonly type: 'messageAccepted';
      readonly clientMessageId?: string;
      readonly message: Message;
      /** A send to a direct chat: its other member, for the `directChat` view of the next send. */
      readonly directChat?: { readonly peerId: string };
    }
  /** A `sendMessages` frame's messages, stored (or found already stored), in the order sent. */
  | { readonly type: 'messagesAccepted'; readonly conversationId: string; readonly messages: readonly Message[] }
  | { readonly type: 'syncComplete'; readonly delivered: number; readonly cursor?: string }
  | { readonly type: 'pong' }
  /** The answer to `subscribePresence`: the presence now of each user it may watch (others are left out). */
  | { readonly type: 'presenceSubscribed'; readonly presence: readonly PresenceState[] }
  /** A watched user came online or went offline; `changedAt` orders frames that race. */
  | ({ readonly type: 'presence'; readonly changedAt: string } & PresenceState)
  /** Another member is typing in the conversation (ephemeral: never stored or replayed). */
  | { readonly type: 'typing'; readonly conversationId: string; readonly userId: string }
  | ({ readonly type: 'receipt' } & ReceiptEntry)
  /** Receipts for the messages this user sent, a batch of acknowledgements' worth in one frame. */
  | { readonly type: 'receipts'; readonly receipts: readonly ReceiptEntry[] }
  | {
      readonly type: 'error';
      readonly code: ErrorCode;
      readonly message: string;
      readonly clientMessageId?: string;
      readonly action?: string;
      /** The refused frame's conversation: a read is answered only when refused, and this names which. */
      readonly conversationId?: string;
      readonly details?: Readonly<Record<string, unknown>>;
    };
