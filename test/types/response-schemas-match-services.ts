/**
 * Type-level check, run by `npm run typecheck` (part of `npm test`): what each service returns for
 * a handler to send and the response schema the HTTP contract publishes for it must not drift apart.
 * It lives with the tests so `shared/protocol` never imports services.
 */
import type { z } from 'zod';
import type { ConnectTicketStore } from '#shared/auth/connect-tickets';
import type { ErrorCode } from '#shared/errors';
import type {
  attachmentViewSchema,
  connectTicketSchema,
  conversationPageSchema,
  conversationViewSchema,
  deletedUserSchema,
  errorBodySchema,
  messageEnvelopeSchema,
  messagePageSchema,
  messageReceiptsSchema,
  publicUserProfileSchema,
  uploadTicketSchema,
  userProfileSchema,
  userViewSchema,
} from '#shared/protocol/http-responses';
import type { AttachmentReads, AttachmentUploads } from '#shared/services/attachment-service';
import type { ConversationListService } from '#shared/services/conversation-list-service';
import type { ConversationService } from '#shared/services/conversation-service';
import type { HistoryService } from '#shared/services/history-service';
import type { MessagingService } from '#shared/services/messaging-service';
import type { ReceiptService } from '#shared/services/receipt-service';
import type { DeletedUser, PublicProfile, UserService } from '#shared/services/user-service';

/** Arrays and properties without their readonly marks: mutability is no part of the wire. */
type WireShape<T> = T extends readonly (infer Item)[]
  ? WireShape<Item>[]
  : T extends object
    ? { -readonly [Key in keyof T]: WireShape<T[Key]> }
    : T;

type SameShape<A, B> =
  (<T>() => T extends WireShape<A> ? 1 : 2) extends <T>() => T extends WireShape<B> ? 1 : 2 ? true : false;

type Answer<Method extends (...args: never[]) => Promise<unknown>> = Awaited<ReturnType<Method>>;

/** Fails typecheck when what a service returns for a handler to send and the schema published for it drift apart. */
type Holds<Check extends true> = Check;
export type ResponseSchemasMatchServices = [
  Holds<SameShape<Answer<ConversationService['get']>, z.output<typeof conversationViewSchema>>>,
  Holds<SameShape<Answer<ConversationService['create']>['conversation'], z.output<typeof conversationViewSchema>>>,
  Holds<SameShape<Pick<Answer<MessagingService['send']>, 'message'>, z.output<typeof messageEnvelopeSchema>>>,
  Holds<SameShape<{ message: Answer<HistoryService['get']> }, z.output<typeof messageEnvelopeSchema>>>,
  Holds<SameShape<Answer<HistoryService['list']>, z.output<typeof messagePageSchema>>>,
  Holds<SameShape<Answer<ConversationListService['list']>, z.output<typeof conversationPageSchema>>>,
  Holds<SameShape<Answer<UserService['create']>, z.output<typeof userProfileSchema>>>,
  Holds<SameShape<Answer<UserService['update']>, z.output<typeof userProfileSchema>>>,
  Holds<SameShape<Answer<UserService['get']>, z.output<typeof userViewSchema>>>,
  Holds<SameShape<PublicProfile, z.output<typeof publicUserProfileSchema>>>,
  Holds<SameShape<DeletedUser, z.output<typeof deletedUserSchema>>>,
  Holds<SameShape<ErrorCode, z.output<typeof errorBodySchema>['error']['code']>>,
  Holds<SameShape<Answer<ReceiptService['receiptsFor']>, z.output<typeof messageReceiptsSchema>>>,
  Holds<SameShape<Answer<AttachmentUploads['createUpload']>, z.output<typeof uploadTicketSchema>>>,
  Holds<SameShape<Answer<AttachmentReads['get']>, z.output<typeof attachmentViewSchema>>>,
  Holds<SameShape<Answer<ConnectTicketStore['issue']>, z.output<typeof connectTicketSchema>>>,
];
