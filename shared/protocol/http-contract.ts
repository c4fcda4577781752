/**
 * The HTTP contract, route by route: the exact schemas each handler parses its input with, and what
 * it may answer for each status. Keyed by the catalog's function names, so a route added to
 * `httpRoutes` without an entry here fails typecheck; openapi.ts publishes it, the e2e test holds
 * the handlers to it.
 */
import type { z } from 'zod';
import type { httpRoutes } from '../config/functions';
import { attachmentPathSchema, createAttachmentBodySchema } from './attachments-http';
import {
  addParticipantsBodySchema,
  conversationPathSchema,
  createConversationBodySchema,
  listConversationsQuerySchema,
  participantPathSchema,
  updateConversationBodySchema,
} from './conversations-http';
import {
  apiGatewayErrorSchema,
  attachmentViewSchema,
  connectTicketSchema,
  conversationPageSchema,
  conversationViewSchema,
  errorBodySchema,
  gatewayOrParleyErrorSchema,
  messageEnvelopeSchema,
  messagePageSchema,
  messageReceiptsSchema,
  presenceSchema,
  serverErrorBodySchema,
  uploadTicketSchema,
  userProfileSchema,
  userSearchPageSchema,
  userViewSchema,
  vapidPublicKeySchema,
} from './http-responses';
import {
  editMessageBodySchema,
  listMessagesQuerySchema,
  messagePathSchema,
  reactBodySchema,
  sendMessageBodySchema,
} from './messages-http';
import { devicePathSchema, pushSubscriptionBodySchema } from './push-http';
import { createUserBodySchema, searchUsersQuerySchema, updateUserBodySchema, userPathSchema } from './users-http';

export type HttpStatus = 200 | 201 | 204 | 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500;

export interface ResponseContract {
  readonly description: string;
  /** Absent: the response has no body. */
  readonly body?: z.ZodType;
}

export interface RouteContract {
  readonly summary: string;
  /** What the route does and who may call it, beyond the summary (the OpenAPI operation's description). */
  readonly description: string;
  /** Parsed from the path parameters; its keys are the names in the route's path template. */
  readonly path?: z.ZodType;
  /** Parsed from the query string (every value a string, as API Gateway passes them). */
  readonly query?: z.ZodType;
  /** Parsed from the JSON request body. */
  readonly body?: z.ZodType;
  readonly responses: Readonly<Partial<Record<HttpStatus, ResponseContract>>>;
}

export type HttpFunctionName = (typeof httpRoutes)[number]['function'];

const refused = (description: string): ResponseContract => ({ description, body: errorBodySchema });

/** What any route may answer, whatever it does: the authorizer runs first, and a fault can happen anywhere. */
const everyRouteResponses = {
  401: { description: 'No valid bearer token: refused by the JWT authorizer', body: apiGatewayErrorSchema },
  429: { description: 'Throttled by the API stage (API Gateway answers); back off', body: apiGatewayErrorSchema },
  500: { description: 'A server fault; safe to retry (sends are idempotent)', body: serverErrorBodySchema },
} as const satisfies RouteContract['responses'];

/** For routes that also refuse a token whose account was deleted (`unauthorized`). */
const deletedCallerRefused = {
  description: 'No valid bearer token (JWT authorizer), or the token’s account was deleted (`unauthorized`)',
  body: gatewayOrParleyErrorSchema,
} as const satisfies ResponseContract;

const badInput = refused('A path parameter, query parameter or body field fails validation');

/** For routes that put an event in a timeline: they count against the caller's send limit. */
const timelineWriteLimited = {
  description:
    'The caller’s limit on sends and other timeline writes (`rate_limited`, details.retryAfterSeconds) or stage throttling',
  body: gatewayOrParleyErrorSchema,
} as const satisfies ResponseContract;
const busy = refused('The conversation was too busy to take the change; retry');

/** What the three changes to a message answer, beside their own refusals. */
const changeResponses = {
  201: { description: 'The change, stored as a timeline entry at its own seq', body: messageEnvelopeSchema },
  200: { description: 'A retry: the change first stored for this clientMessageId', body: messageEnvelopeSchema },
  400: badInput,
  404: refused('No such text message, not one the caller may see, or the caller is not a member'),
  ...everyRouteResponses,
  429: timelineWriteLimited,
} as const satisfies RouteContract['responses'];

export const httpContract = {
  httpCreateConversation: {
    summary: 'Create a conversation; the caller joins it (as a group’s admin)',
    description:
      'A direct conversation names exactly one other user and is unique per pair: creating it again answers the existing one with 200. A group takes a name and up to 99 other members, each of whom must let the caller add them (their `groupAdds` setting); its creator is its admin. Deleted users cannot be added.',
    body: createConversationBodySchema,
    responses: {
      201: { description: 'The new conversation', body: conversationViewSchema },
      200: { description: 'The direct conversation this pair already has', body: conversationViewSchema },
      400: refused('Invalid body, members that do not fit the conversation type or group limit, or a deleted member'),
      403: refused(
        'A member of the group does not let the caller add them (`add_not_allowed`, details.userIds; their `groupAdds` setting)',
      ),
      ...everyRouteResponses,
      429: {
        ...timelineWriteLimited,
        description: `${timelineWriteLimited.description}, or the caller’s budgets on new conversations (per 10 minutes and per day)`,
      },
      401: deletedCallerRefused,
    },
  },
  httpGetConversation: {
    summary: 'Read a conversation with its members (members only)',
    description:
      "The conversation's settings, lastSeq and members with their roles and join seqs. Anyone who is not a member gets 404, as for a conversation that does not exist, so ids cannot be probed.",
    path: conversationPathSchema,
    responses: {
      200: { description: 'The conversation', body: conversationViewSchema },
      400: badInput,
      404: refused('No such conversation, or the caller is not a member'),
      ...everyRouteResponses,
    },
  },
  httpUpdateConversation: {
    summary: 'Rename a group (admins)',
    description:
      "Renames a group; the change is a timeline event every member's devices receive. Direct conversations have no name to change.",
    path: conversationPathSchema,
    body: updateConversationBodySchema,
    responses: {
      200: { description: 'The renamed conversation', body: conversationViewSchema },
      400: refused('Invalid input, or the conversation is not a group'),
      403: refused('The caller is not an admin of the group'),
      404: refused('No such conversation, or the caller is not a member'),
      409: busy,
      ...everyRouteResponses,
      429: timelineWriteLimited,
    },
  },
  httpAddParticipants: {
    summary: 'Add members to a group (admins); members already present are ignored',
    description:
      'Adds users to a group up to its 100-member limit, as one timeline event. Members already present are ignored; deleted users, and users who do not let the caller add them (their `groupAdds` setting), are refused and nothing is written.',
    path: conversationPathSchema,
    body: addParticipantsBodySchema,
    responses: {
      200: { description: 'The conversation with its members now', body: conversationViewSchema },
      400: refused('Invalid input, the conversation is not a group, or a deleted user named'),
      403: refused(
        'The caller is not an admin of the group, or a user named does not let the caller add them (`add_not_allowed`, details.userIds)',
      ),
      404: refused('No such conversation, or the caller is not a member'),
      409: refused('The group would exceed its member limit, or was too busy; retry'),
      ...everyRouteResponses,
      429: timelineWriteLimited,
      401: deletedCallerRefused,
    },
  },
  httpRemoveParticipant: {
    summary: 'Remove a member from a group (admins), or leave it (anyone, naming themselves)',
    description:
      'An admin removes a member, or a member leaves by naming themselves. The removal is a timeline event; the removed member gets it and nothing after it.',
    path: participantPathSchema,
    responses: {
      204: { description: 'Removed' },
      400: refused('Invalid path, or the conversation is direct'),
      403: refused('The caller is neither an admin nor the member leaving'),
      404: refused('No such conversation, the caller is not a member, or the user named is not one'),
      409: busy,
      ...everyRouteResponses,
      429: timelineWriteLimited,
    },
  },
  httpSendMessage: {
    summary: 'Send a message: the WebSocket send over HTTP, idempotent per clientMessageId',
    description:
      "Stores a message at the conversation's next seq and delivers it to every member's devices, as the WebSocket sendMessage does. A retry with the same clientMessageId answers the original with 200 and stores nothing. With `replyTo` (a seq), the message carries that message's sender and a short preview.",
    path: conversationPathSchema,
    body: sendMessageBodySchema,
    responses: {
      201: { description: 'The new message', body: messageEnvelopeSchema },
      200: { description: 'A retry: the message first stored for this clientMessageId', body: messageEnvelopeSchema },
      400: badInput,
      404: refused('No such conversation, the caller is not a member, or `replyTo` names no message they may see'),
      409: refused('The conversation was too busy to allocate a seq; retry with the same clientMessageId'),
      ...everyRouteResponses,
      429: {
        description: 'The caller’s send rate limit (`rate_limited`, details.retryAfterSeconds) or stage throttling',
        body: gatewayOrParleyErrorSchema,
      },
    },
  },
  httpEditMessage: {
    summary: 'Edit a message: the sender, within 15 minutes of sending',
    description:
      "Replaces the text of the caller's own message while the edit window (15 minutes) lasts. The edit is an entry of its own in the timeline (type `edit`, `targetSeq`): every device applies it, and history shows the message with its new text and `editedAt`. It raises no unread count. With a clientMessageId, a retry answers the edit it made.",
    path: messagePathSchema,
    body: editMessageBodySchema,
    responses: {
      ...changeResponses,
      400: refused('Invalid text (the text rules of a send), or an id that names no message'),
      403: refused('Not the sender (`details.reason: not_sender`), or the edit window passed (`edit_window_passed`)'),
      409: refused('The message was deleted (`details.reason: deleted`), or it kept changing; retry'),
    },
  },
  httpDeleteMessage: {
    summary: 'Delete a message for everyone: its sender, or an admin of the group',
    description:
      'Turns the message into a tombstone for everyone: no text, attachments, reactions or reply, with `deletedAt` and `deletedBy`. Its attachments are no longer served. The deletion is an entry of its own in the timeline (type `delete`, `targetSeq`) and raises no unread count.',
    path: messagePathSchema,
    responses: {
      ...changeResponses,
      403: refused('Neither the sender nor an admin of the group (`details.reason: not_sender`)'),
      409: refused('Already deleted (`details.reason: deleted`), or the group kept changing; retry'),
    },
  },
  httpReactToMessage: {
    summary: 'React to a message with an emoji, or take the reaction back',
    description:
      'Any member reacts once per emoji per message, at most 20 different emoji a message; `remove: true` takes the reaction back. The emoji is one grapheme cluster that is an emoji. The reaction is an entry of its own in the timeline (type `reaction`, `targetSeq`, `emoji`, `removed`) and history shows each message with its reactions per emoji and who reacted. It raises no unread count.',
    path: messagePathSchema,
    body: reactBodySchema,
    responses: {
      ...changeResponses,
      400: refused('Not exactly one emoji, or another invalid field'),
      409: refused(
        'Already reacted with it (`details.reason: already_reacted`), no such reaction to take back (`not_reacted`), the message has 20 different emoji (`too_many_reactions`) or was deleted (`deleted`)',
      ),
    },
  },
  httpListMessages: {
    summary: 'One page of history by seq, from the caller’s visible floor',
    description:
      "Pages the timeline by seq, after or before a seq or from a cursor, never below the caller's visible floor (the seq they joined at, unless the group shares its history).",
    path: conversationPathSchema,
    query: listMessagesQuerySchema,
    responses: {
      200: { description: 'A page of messages in its direction', body: messagePageSchema },
      400: refused('A bad or unknown query parameter, a forbidden combination, or an invalid cursor'),
      404: refused('No such conversation, or the caller is not a member'),
      ...everyRouteResponses,
    },
  },
  httpGetMessage: {
    summary: 'One message by id (members, from their visible floor)',
    description: 'Reads one message by its id (`<conversationId>-<seq>`), for members who may see that seq.',
    path: messagePathSchema,
    responses: {
      200: { description: 'The message', body: messageEnvelopeSchema },
      400: badInput,
      404: refused('No such message, or not one the caller may see'),
      ...everyRouteResponses,
    },
  },
  httpMarkRead: {
    summary: 'Mark the conversation read up to this message, for the caller',
    description:
      "Moves the caller's read mark (and delivered mark) for the message's conversation up to the message's seq. Marks only move forward.",
    path: messagePathSchema,
    responses: {
      204: { description: 'Read up to the message (repeating it is harmless)' },
      400: badInput,
      404: refused('No such message, or not one the caller may see'),
      ...everyRouteResponses,
    },
  },
  httpListReadReceipts: {
    summary: 'When each other member had this message delivered and read (null where not yet)',
    description:
      'For each other member: when the message was first delivered to and read by them, or null. Members who turned read receipts off only ever show a delivery.',
    path: messagePathSchema,
    responses: {
      200: { description: 'One row per other member who belonged when it was sent', body: messageReceiptsSchema },
      400: badInput,
      404: refused('No such message, or not one the caller may see'),
      ...everyRouteResponses,
    },
  },
  httpCreateUser: {
    summary: 'Create the caller’s profile, under the token’s user id',
    description:
      "Creates the profile of the token's user with a unique username (case ignored). Every user creates theirs once; PUT changes it.",
    body: createUserBodySchema,
    responses: {
      201: { description: 'The profile', body: userProfileSchema },
      400: badInput,
      409: refused(
        'The caller already has a profile, the username is taken, or it looks like one that is (`username_confusable`, details.lookAlikeOf)',
      ),
      ...everyRouteResponses,
    },
  },
  httpSearchUsers: {
    summary: 'Find people by username prefix: public profiles, the caller left out, exact match first',
    description:
      'Finds people to start a chat with by the start of their username (3 characters or more, any case), 20 a page. Deleted accounts never appear. Each user may search 60 times a minute.',
    query: searchUsersQuerySchema,
    responses: {
      200: { description: 'A page of matches; follow `cursor` for the next', body: userSearchPageSchema },
      400: refused(
        'The prefix is shorter than 3 characters or holds other characters than a username may, or a bad cursor',
      ),
      ...everyRouteResponses,
      429: {
        description: 'The caller’s search rate limit (`rate_limited`, details.retryAfterSeconds) or stage throttling',
        body: gatewayOrParleyErrorSchema,
      },
    },
  },
  httpGetUser: {
    summary: 'Read a profile: whole for its owner, public for anyone else',
    description:
      'The owner gets the whole profile; anyone else gets the public view (id, name, username). A deleted user answers with a placeholder so old messages keep an author. `me` names the caller.',
    path: userPathSchema,
    responses: {
      200: { description: 'The profile, its public view, or a deleted user’s placeholder', body: userViewSchema },
      400: badInput,
      404: refused('No profile with this id'),
      ...everyRouteResponses,
    },
  },
  httpUpdateUser: {
    summary: 'Change the caller’s own profile; null clears email or phone',
    description: "Changes the caller's own profile fields; a new username must be free. `me` names the caller.",
    path: userPathSchema,
    body: updateUserBodySchema,
    responses: {
      200: { description: 'The whole profile as changed', body: userProfileSchema },
      400: badInput,
      403: refused('The profile is not the caller’s'),
      404: refused('The caller has no profile'),
      409: refused(
        'The username is taken or looks like one that is (`username_confusable`), or the change kept losing races to others; retry',
      ),
      ...everyRouteResponses,
    },
  },
  httpDeleteUser: {
    summary: 'Delete the caller’s account: the profile becomes a tombstone, every conversation is left',
    description:
      'Self only. The profile becomes a tombstone, the username is freed, the account leaves every conversation and its connections close. A retry finishes a partial deletion. `me` names the caller.',
    path: userPathSchema,
    responses: {
      204: { description: 'Deleted (also when it already was)' },
      400: badInput,
      403: refused('The account is not the caller’s'),
      409: refused('A change raced with the deletion; retry (repeating it is harmless)'),
      ...everyRouteResponses,
    },
  },
  httpListUserConversations: {
    summary: 'The caller’s conversations, newest activity first, with last message and unread count',
    description:
      "The caller's conversations, most recently active first, each with its last message and the caller's unread count, a page at a time. Self only; `me` names the caller.",
    path: userPathSchema,
    query: listConversationsQuerySchema,
    responses: {
      200: { description: 'A page of conversations', body: conversationPageSchema },
      400: refused('A bad or unknown query parameter, or an invalid cursor'),
      403: refused('The user is not the caller'),
      ...everyRouteResponses,
    },
  },
  httpGetPresence: {
    summary: 'Whether a user is online, or when they were last seen',
    description:
      'Online while any device of the user holds a WebSocket connection; otherwise `lastSeenAt`, when the last one closed (null if never seen). Only for users who share a conversation with the caller, and the caller: anyone else answers 404, exactly as an unknown id. A user whose `showPresence` is off answers offline with `lastSeenAt: null` (as one never seen) to everyone but themselves. Clients with a conversation open subscribe over the WebSocket instead (`subscribePresence`). `me` names the caller.',
    path: userPathSchema,
    responses: {
      200: { description: 'The user’s presence as the caller may see it', body: presenceSchema },
      400: badInput,
      404: refused('No such user, or none who shares a conversation with the caller'),
      ...everyRouteResponses,
    },
  },
  httpCreateAttachment: {
    summary: 'Start an upload: a pending attachment and a presigned PUT (and one for a video’s poster)',
    description:
      'Registers an upload to a conversation the caller belongs to and answers presigned PUT URLs; the attachment becomes ready once the uploaded bytes have been checked and processed.',
    path: conversationPathSchema,
    body: createAttachmentBodySchema,
    responses: {
      201: { description: 'Upload with these URL and headers before expiresAt', body: uploadTicketSchema },
      400: refused('Invalid body, or a poster for something that is not a video'),
      404: refused('No such conversation, or the caller is not a member'),
      413: refused('Larger than the limit for its kind (details.maxBytes)'),
      415: refused('A content type that is not accepted (details.accepted lists them by kind)'),
      ...everyRouteResponses,
    },
  },
  httpGetAttachment: {
    summary: 'An attachment’s metadata and status; signed download URLs once it is ready',
    description:
      "Members of the attachment's conversation read its status and metadata; once it is ready the answer carries signed download URLs for the file and its thumbnail.",
    path: attachmentPathSchema,
    responses: {
      200: { description: 'The attachment, with url and thumbnailUrl when ready', body: attachmentViewSchema },
      400: badInput,
      404: refused('No such attachment, or not visible to the caller (not a member, or not sent where they can read)'),
      ...everyRouteResponses,
    },
  },
  httpCreateConnectTicket: {
    summary: 'A single-use ticket that opens one WebSocket (`$connect?ticket=…&deviceId=…`) within seconds',
    description:
      'Answers a ticket to open the WebSocket with, so no token ever sits in a URL. It opens one connection within seconds and never again.',
    responses: {
      201: { description: 'The ticket and when it stops working', body: connectTicketSchema },
      ...everyRouteResponses,
      401: deletedCallerRefused,
    },
  },
  httpRegisterPushSubscription: {
    summary: 'Register the Web Push subscription of one of the caller’s devices (replaces an earlier one)',
    description:
      "The body is the browser's `PushSubscription.toJSON()`. The device must be one the caller has connected with; the endpoint must be an https URL of a known push service (FCM, Mozilla, Apple, Windows), else `push_endpoint_not_allowed`. While the device is offline, a new message pushes a notification to it, at most one per conversation and minute. The subscription goes with the device or the account.",
    path: devicePathSchema,
    body: pushSubscriptionBodySchema,
    responses: {
      204: { description: 'Registered' },
      400: refused(
        'A field fails validation, or the endpoint is not a known push service (`push_endpoint_not_allowed`)',
      ),
      404: refused('The caller has no device with this id'),
      ...everyRouteResponses,
    },
  },
  httpDeletePushSubscription: {
    summary: 'Stop pushes to one of the caller’s devices',
    description: "Removes the device's Web Push subscription; removing one that is not there succeeds too.",
    path: devicePathSchema,
    responses: {
      204: { description: 'Removed (also when there was none)' },
      400: badInput,
      404: refused('The caller has no device with this id'),
      ...everyRouteResponses,
    },
  },
  httpGetVapidPublicKey: {
    summary: 'The VAPID public key to subscribe with (`applicationServerKey`)',
    description:
      "The server's VAPID public key (RFC 8292): pass it as `applicationServerKey` to `PushManager.subscribe`. It changes only with a new deployment's key pair.",
    responses: {
      200: { description: 'The key, base64url', body: vapidPublicKeySchema },
      ...everyRouteResponses,
    },
  },
} as const satisfies Record<HttpFunctionName, RouteContract>;
