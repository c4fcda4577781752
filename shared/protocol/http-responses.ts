/**
 * What the HTTP routes answer (docs/protocol.md, HTTP API), as zod schemas: the shapes the services
 * return and the error bodies. http-contract.ts ties each route to them and checks them against the
 * services' types; openapi.ts publishes them. Fields may be added; the ones below hold.
 */
import { z } from 'zod';
import { type ErrorCode, errorCodes } from '../errors';
import { clientMessageIdSchema, idSchema, seqSchema } from './frames';
import { emailSchema, groupAddsSchema, phoneSchema, userIdSchema } from './users-http';

/** Server time, as `Date.prototype.toISOString()` writes it. */
const serverTimeSchema = z.iso.datetime();

const countSchema = z.number().int().nonnegative();

/** A page continues while this is present; opaque to clients. */
const pageCursorSchema = z.string().min(1);

export const memberSchema = z.object({
  userId: userIdSchema,
  role: z.enum(['admin', 'member']),
  joinedAt: serverTimeSchema,
  /** Seq of the timeline event that added the member; history and fan-out start there. */
  joinedSeq: seqSchema,
});

export const conversationSchema = z.object({
  id: idSchema,
  type: z.enum(['direct', 'group']),
  name: z.string().optional(),
  historyVisibility: z.enum(['joined', 'all']),
  createdBy: userIdSchema,
  createdAt: serverTimeSchema,
  lastSeq: seqSchema,
  /** Server time of the newest entry that is not a change (edits, deletes and reactions leave it). */
  lastMessageAt: serverTimeSchema.optional(),
  memberCount: countSchema,
  /** Seq of the newest entry that is not a change. */
  lastMessageSeq: z.optional(seqSchema),
  /** Seq of the newest change (edit, delete, reaction). */
  lastChangeSeq: z.optional(seqSchema),
});

export const conversationViewSchema = conversationSchema.extend({ members: z.array(memberSchema) });

export const timelineEventSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('created'),
    actorId: userIdSchema,
    memberIds: z.array(userIdSchema),
    name: z.string().optional(),
  }),
  z.object({ kind: z.literal('membersAdded'), actorId: userIdSchema, userIds: z.array(userIdSchema) }),
  z.object({ kind: z.literal('memberRemoved'), actorId: userIdSchema, userId: userIdSchema }),
  z.object({ kind: z.literal('memberLeft'), actorId: userIdSchema, userId: userIdSchema }),
  z.object({ kind: z.literal('renamed'), actorId: userIdSchema, name: z.string() }),
]);

const thumbnailSchema = z.object({
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  contentType: z.string(),
});

/** What a message carries per attachment; URLs come from `GET /attachments/{id}`. */
export const messageAttachmentSchema = z.object({
  id: idSchema,
  kind: z.enum(['image', 'video', 'file']),
  fileName: z.string(),
  contentType: z.string(),
  size: z.number().int().nonnegative(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
  thumbnail: thumbnailSchema.optional(),
});

const uploadTargetShape = {
  /** A presigned S3 PUT: send the file as the body, with exactly `uploadHeaders`. */
  uploadUrl: z.url(),
  uploadHeaders: z.record(z.string(), z.string()),
};

export const uploadTicketSchema = z.object({
  attachmentId: idSchema,
  ...uploadTargetShape,
  /** When the upload URLs stop working. */
  expiresAt: serverTimeSchema,
  /** Present when a poster was declared. */
  poster: z.object(uploadTargetShape).optional(),
});

export const attachmentViewSchema = messageAttachmentSchema.extend({
  conversationId: idSchema,
  uploaderId: userIdSchema,
  status: z.enum(['pending', 'ready', 'rejected']),
  createdAt: serverTimeSchema,
  rejection: z.enum(['type_mismatch', 'unsupported_type', 'unreadable', 'size_mismatch']).optional(),
  /** Signed, short-lived download URLs, present once ready. */
  url: z.url().optional(),
  thumbnailUrl: z.url().optional(),
  expiresAt: serverTimeSchema.optional(),
});

/** What a reply carries of the message it answers: its current preview in history, or `deleted`. */
export const replyRefSchema = z.object({
  seq: seqSchema,
  senderId: userIdSchema,
  preview: z.string(),
  hasAttachments: z.boolean().optional(),
  deleted: z.boolean().optional(),
});

export const reactionSchema = z.object({
  emoji: z.string(),
  count: countSchema,
  userIds: z.array(userIdSchema),
});

export const messageSchema = z.object({
  id: idSchema,
  conversationId: idSchema,
  seq: seqSchema,
  senderId: userIdSchema,
  /**
   * `system` carries an `event`; `void` fills an abandoned seq and has empty text; `edit`, `delete`
   * and `reaction` change the text message at `targetSeq` (an edit's text is the new text).
   */
  type: z.enum(['text', 'system', 'void', 'edit', 'delete', 'reaction']),
  text: z.string(),
  createdAt: serverTimeSchema,
  clientMessageId: z.optional(clientMessageIdSchema),
  event: timelineEventSchema.optional(),
  attachments: z.array(messageAttachmentSchema).optional(),
  replyTo: replyRefSchema.optional(),
  targetSeq: z.optional(seqSchema),
  emoji: z.string().optional(),
  removed: z.boolean().optional(),
  editedAt: serverTimeSchema.optional(),
  deletedAt: serverTimeSchema.optional(),
  deletedBy: userIdSchema.optional(),
  reactions: z.array(reactionSchema).optional(),
  changedSeq: z.optional(seqSchema),
});

/** `POST /conversations/{id}/messages` and `GET /messages/{id}` wrap the message. */
export const messageEnvelopeSchema = z.object({ message: messageSchema });

export const messagePageSchema = z.object({ messages: z.array(messageSchema), cursor: pageCursorSchema.optional() });

export const conversationSummarySchema = conversationSchema.extend({
  role: memberSchema.shape.role,
  lastMessage: messageSchema.optional(),
  unreadCount: countSchema,
});

export const conversationPageSchema = z.object({
  conversations: z.array(conversationSummarySchema),
  cursor: pageCursorSchema.optional(),
});

/** One row per other member of a message: when it was first delivered to and read by them. */
export const messageReceiptsSchema = z.object({
  state: z.enum(['sent', 'delivered', 'read']),
  receipts: z.array(
    z.object({ userId: userIdSchema, deliveredAt: z.string().nullable(), readAt: z.string().nullable() }),
  ),
});

export const userProfileSchema = z.object({
  id: userIdSchema,
  name: z.string(),
  username: z.string(),
  email: emailSchema.optional(),
  phone: phoneSchema.optional(),
  readReceipts: z.boolean(),
  /** Whether others see when the user is online and was last seen. */
  showPresence: z.boolean(),
  /** Whether the user's push notifications show a short preview of the message, or only who wrote. */
  pushPreview: z.boolean(),
  /** Who may add the user to a group: `everyone`, `directChats` (people they started or wrote in a direct chat with), `nobody`. */
  groupAdds: groupAddsSchema,
  createdAt: serverTimeSchema,
  updatedAt: serverTimeSchema,
});

export const publicUserProfileSchema = userProfileSchema.pick({ id: true, name: true, username: true });

export const deletedUserSchema = z.object({ id: userIdSchema, deleted: z.literal(true), name: z.string() });

/**
 * `GET /users/{id}/presence`: online while any device of the user holds a connection; else when the
 * last one closed. A user who hides presence reads as offline, never seen (`lastSeenAt: null`).
 */
export const presenceSchema = z.object({
  online: z.boolean(),
  lastSeenAt: serverTimeSchema.nullable(),
});

/** People found by username, in username order (an exact match first), and the next page's cursor. */
export const userSearchPageSchema = z.object({
  users: z.array(publicUserProfileSchema),
  cursor: z.string().optional(),
});

/** The owner gets the whole profile, anyone else the public view, everyone a deleted user's placeholder. */
export const userViewSchema = z.union([userProfileSchema, publicUserProfileSchema, deletedUserSchema]);

// Object.keys widens to string[]; the keys are exactly ErrorCode.
const errorCodeNames = Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]];

/** What a handler answers for every refusal: `{"error":{"code","message","details"?}}`, status matching the code. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(errorCodeNames),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

/** What API Gateway answers on its own, before or instead of the handler (JWT authorizer, a crashed integration). */
export const apiGatewayErrorSchema = z.object({ message: z.string() });

/** 401 and 429 come from API Gateway (JWT authorizer, stage throttling) or from Parley (a deleted account, the send rate limit). */
export const gatewayOrParleyErrorSchema = z.union([apiGatewayErrorSchema, errorBodySchema]);

/** `POST /connect-ticket`: open the WebSocket with `?ticket=…&deviceId=…` before `expiresAt`, once. */
export const connectTicketSchema = z.object({
  ticket: z.string().min(1),
  expiresAt: serverTimeSchema,
});

/** `GET /push/vapid-public-key`: PushManager.subscribe's `applicationServerKey` (uncompressed P-256, base64url). */
export const vapidPublicKeySchema = z.object({ publicKey: z.string().min(1) });

/** A fault answered by the handler's error mapping, or by API Gateway when the function itself failed. */
export const serverErrorBodySchema = z.union([errorBodySchema, apiGatewayErrorSchema]);

/** Every response body by the name it is published under (OpenAPI `components.schemas`). */
export const httpResponseSchemas = {
  Member: memberSchema,
  ConversationView: conversationViewSchema,
  TimelineEvent: timelineEventSchema,
  Message: messageSchema,
  ReplyRef: replyRefSchema,
  Reaction: reactionSchema,
  MessageAttachment: messageAttachmentSchema,
  UploadTicket: uploadTicketSchema,
  AttachmentView: attachmentViewSchema,
  MessageEnvelope: messageEnvelopeSchema,
  MessageReceipts: messageReceiptsSchema,
  MessagePage: messagePageSchema,
  ConversationSummary: conversationSummarySchema,
  ConversationPage: conversationPageSchema,
  UserProfile: userProfileSchema,
  PublicUserProfile: publicUserProfileSchema,
  DeletedUser: deletedUserSchema,
  UserView: userViewSchema,
  UserSearchPage: userSearchPageSchema,
  Presence: presenceSchema,
  ErrorBody: errorBodySchema,
  ApiGatewayError: apiGatewayErrorSchema,
  GatewayOrParleyError: gatewayOrParleyErrorSchema,
  ServerErrorBody: serverErrorBodySchema,
  ConnectTicket: connectTicketSchema,
  VapidPublicKey: vapidPublicKeySchema,
} as const satisfies Record<string, z.ZodType>;
