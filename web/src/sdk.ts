/** The parts of the Parley client SDK (client/) the app uses, in one place. */

export type {
  AttachmentView,
  ConnectionState,
  ConversationSummary,
  ConversationView,
  KeyValueStore,
  Message,
  MessageAttachment,
  MessageReceipts,
  PresenceEvent,
  Reaction,
  ReceiptEvent,
  ReplyRef,
  TypingEvent,
  UserSearchPage,
  UserView,
  WebSocketLike,
} from '../../client/index';
export {
  isChangeEntry,
  ParleyApiError,
  ParleyClient,
  ParleyClientError,
  ParleyServerError,
  ParleyUploadError,
} from '../../client/index';
