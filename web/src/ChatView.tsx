/** One conversation: header, history (older pages load on scrolling up), ticks, composer, members. */
import { type UIEvent, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { AttachmentTile, PendingAttachmentTile } from './AttachmentTile';
import { Composer } from './Composer';
import { deletedText, describeEvent, formatFullTime, formatTime } from './format';
import { LinkifiedText } from './linkify';
import { MembersPanel } from './MembersPanel';
import { MessageInfoDialog } from './MessageInfo';
import { EditForm, MessageActions, Reactions, ReplyQuote } from './MessageTools';
import { type TickState, tickLabels } from './receipts';
import { isChangeEntry, type Message } from './sdk';
import type { ChatStore, PendingMessage } from './store';

/** How close to the top (px) scrolling has to come before the previous page loads. */
const loadOlderThreshold = 150;
/** How close to the bottom (px) still counts as "at the newest message" (new ones keep it in view). */
const stickToBottomThreshold = 80;

function usePageVisible(): boolean {
  const [visible, setVisible] = useState(() => document.visibilityState === 'visible');
  useEffect(() => {
    const onChange = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', onChange);
    return () => document.removeEventListener('visibilitychange', onChange);
  }, []);
  return visible;
}

export function ChatView({ store, conversationId }: { readonly store: ChatStore; readonly conversationId: string }) {
  const messages = store.client.messages(conversationId);
  const shown = useMemo(
    () => messages.filter((message) => message.type !== 'void' && !isChangeEntry(message)),
    [messages],
  );
  const sentIds = useMemo(
    () => new Set(shown.flatMap((message) => (message.clientMessageId === undefined ? [] : [message.clientMessageId]))),
    [shown],
  );
  const pending = store.pendingOf(conversationId).filter((entry) => !sentIds.has(entry.clientMessageId));
  const conversation = store.conversation(conversationId);
  const summary = store.summary(conversationId);
  const older = store.olderState(conversationId);
  const isGroup = (conversation ?? summary)?.type === 'group';
  const title = store.title(conversationId);
  const pageVisible = usePageVisible();
  const [showMembers, setShowMembers] = useState(false);
  const [infoFor, setInfoFor] = useState<Message | undefined>(undefined);
  const [replyingTo, setReplyingTo] = useState<Message | undefined>(undefined);
  // The message being answered as it is now: one deleted meanwhile can no longer be answered.
  const replyTarget = shown.find((message) => message.seq === replyingTo?.seq && message.deletedAt === undefined);
  const [initialLoadDone, setInitialLoadDone] = useState(false);
  const closeInfo = useCallback(() => setInfoFor(undefined), []);

  const scroller = useRef<HTMLElement>(null);
  const atBottom = useRef(true);
  const previousFirstSeq = useRef<number | undefined>(undefined);
  const previousHeight = useRef(0);

  useEffect(() => {
    let cancelled = false;
    void store.loadConversation(conversationId);
    const start = async () => {
      // The SDK holds only what arrived this session; the newest page of history fills the view.
      if (store.client.messages(conversationId).length < 20) await store.loadOlder(conversationId);
      await store.seedMarks(conversationId);
      if (!cancelled) setInitialLoadDone(true);
    };
    void start();
    return () => {
      cancelled = true;
    };
  }, [store, conversationId]);

  // Everything shown counts as read while the page is visible.
  const lastSeq = shown.at(-1)?.seq ?? 0;
  useEffect(() => {
    if (pageVisible && lastSeq > 0) store.markRead(conversationId, lastSeq);
  }, [store, conversationId, lastSeq, pageVisible]);

  // Keeps the reading position when older messages are prepended, and follows new ones at the bottom.
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element === null) return;
    const firstSeq = shown[0]?.seq;
    const prepended =
      previousFirstSeq.current !== undefined && firstSeq !== undefined && firstSeq < previousFirstSeq.current;
    if (prepended) element.scrollTop += element.scrollHeight - previousHeight.current;
    else if (atBottom.current) element.scrollTop = element.scrollHeight;
    previousFirstSeq.current = firstSeq;
    previousHeight.current = element.scrollHeight;
  });

  // A first page too short to scroll can never reach the top by scrolling: load until it can.
  useEffect(() => {
    const element = scroller.current;
    if (!initialLoadDone || element === null || older.loading || !older.hasMore) return;
    if (element.scrollHeight <= element.clientHeight + loadOlderThreshold) void store.loadOlder(conversationId);
  }, [store, conversationId, initialLoadDone, older.loading, older.hasMore]);

  const onScroll = (event: UIEvent<HTMLElement>) => {
    const element = event.currentTarget;
    atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < stickToBottomThreshold;
    previousHeight.current = element.scrollHeight;
    if (initialLoadDone && element.scrollTop < loadOlderThreshold && older.hasMore && !older.loading) {
      void store.loadOlder(conversationId);
    }
  };

  const onSent = () => {
    atBottom.current = true;
  };

  // A direct chat's header shows the other member online or last seen while it is open.
  const otherId = isGroup ? undefined : otherMemberOf(store, conversationId);
  useEffect(() => {
    if (otherId === undefined) return;
    store.watchPresence([otherId]);
    return () => store.watchPresence([]);
  }, [store, otherId]);

  const typists = store.typingIn(conversationId);
  const subtitle =
    typists.length > 0
      ? `${typists.map(store.nameOf).join(', ')} ${typists.length === 1 ? 'is' : 'are'} typing…`
      : isGroup
        ? `${conversation?.memberCount ?? summary?.memberCount ?? '…'} members`
        : directSubtitle(store, conversationId);

  return (
    <section className="chat" aria-labelledby="chat-title">
      <header className="chat-header">
        <button
          type="button"
          className="icon back"
          aria-label="Back to conversations"
          onClick={() => store.open(undefined)}
        >
          ←
        </button>
        <div className="chat-heading">
          <h2 id="chat-title">{title}</h2>
          <p className="muted">{subtitle}</p>
        </div>
        {isGroup ? (
          <button
            type="button"
            aria-expanded={showMembers}
            aria-controls="members-panel"
            onClick={() => setShowMembers((open) => !open)}
          >
            Members
          </button>
        ) : null}
      </header>
      <div className="chat-body">
        <div className="chat-column">
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard to scroll it */}
          <section className="messages" ref={scroller} onScroll={onScroll} aria-label="Messages" tabIndex={0}>
            <div className="history-edge">
              {older.loading ? (
                <p className="muted">Loading older messages…</p>
              ) : older.error !== undefined ? (
                <p className="error">
                  Could not load older messages.{' '}
                  <button type="button" className="small" onClick={() => void store.loadOlder(conversationId)}>
                    Retry
                  </button>
                </p>
              ) : older.hasMore ? (
                <button type="button" className="small" onClick={() => void store.loadOlder(conversationId)}>
                  Load older messages
                </button>
              ) : (
                <p className="muted">This is the beginning of the conversation.</p>
              )}
            </div>
            <ol className="message-list">
              {shown.map((message, index) => (
                <MessageItem
                  key={message.id}
                  store={store}
                  message={message}
                  showSender={isGroup && !continues(shown[index - 1], message)}
                  onInfo={isGroup ? setInfoFor : undefined}
                  onReply={setReplyingTo}
                />
              ))}
              {pending.map((entry) => (
                <PendingItem key={entry.clientMessageId} store={store} pending={entry} />
              ))}
            </ol>
          </section>
          {store.notice === undefined ? null : (
            <p className="error pad" role="alert">
              {store.notice}
            </p>
          )}
          <Composer
            store={store}
            conversationId={conversationId}
            onSent={onSent}
            replyingTo={replyTarget}
            onCancelReply={() => setReplyingTo(undefined)}
          />
        </div>
        {isGroup && showMembers ? (
          <MembersPanel store={store} conversationId={conversationId} onClose={() => setShowMembers(false)} />
        ) : null}
      </div>
      {infoFor === undefined ? null : <MessageInfoDialog store={store} message={infoFor} onClose={closeInfo} />}
    </section>
  );
}

/** The same sender again, right after their previous message: no need to name them twice. */
function continues(previous: Message | undefined, message: Message): boolean {
  return previous !== undefined && previous.type !== 'system' && previous.senderId === message.senderId;
}

function otherMemberOf(store: ChatStore, conversationId: string): string | undefined {
  return store.conversation(conversationId)?.members.find((member) => member.userId !== store.myId)?.userId;
}

function directSubtitle(store: ChatStore, conversationId: string): string {
  const otherId = otherMemberOf(store, conversationId);
  if (otherId === undefined) return 'Direct chat';
  const presence = store.presenceOf(otherId);
  if (presence?.online) return 'online';
  if (presence?.lastSeenAt) return `last seen ${formatFullTime(presence.lastSeenAt)}`;
  const view = store.user(otherId);
  return view !== undefined && view !== null && 'username' in view ? `@${view.username}` : 'Direct chat';
}

function MessageItem(props: {
  readonly store: ChatStore;
  readonly message: Message;
  readonly showSender: boolean;
  readonly onInfo: ((message: Message) => void) | undefined;
  readonly onReply: (message: Message) => void;
}) {
  const { store, message } = props;
  const [editing, setEditing] = useState(false);
  if (message.type === 'system') {
    return (
      <li className="system" data-seq={message.seq}>
        <span>{describeEvent(message, store.nameOf)}</span>
      </li>
    );
  }
  const mine = message.senderId === store.myId;
  const sender = store.nameOf(message.senderId);
  const deleted = message.deletedAt !== undefined;
  const tick = deleted ? undefined : store.tickOf(message);
  const attachments = message.attachments ?? [];
  return (
    <li
      className={`message ${mine ? 'mine' : 'theirs'}${deleted ? ' deleted' : ''}`}
      data-seq={message.seq}
      data-message-id={message.id}
    >
      <div className="bubble">
        {props.showSender && !mine ? (
          <span className="sender">{sender}</span>
        ) : (
          <span className="sr-only">{mine ? 'You' : sender}: </span>
        )}
        {message.replyTo === undefined ? null : <ReplyQuote store={store} replyTo={message.replyTo} />}
        {deleted ? (
          <p className="tombstone">{deletedText}</p>
        ) : editing ? (
          <EditForm store={store} message={message} onDone={() => setEditing(false)} />
        ) : (
          <>
            {attachments.length === 0 ? null : (
              <div className="attachments">
                {attachments.map((attachment) => (
                  <AttachmentTile key={attachment.id} store={store} attachment={attachment} />
                ))}
              </div>
            )}
            {message.text === '' ? null : (
              <p className="text">
                <LinkifiedText text={message.text} />
              </p>
            )}
          </>
        )}
        {deleted ? null : <Reactions store={store} message={message} />}
        <span className="meta">
          {message.editedAt === undefined || deleted ? null : (
            <span className="edited" title={`Edited ${formatFullTime(message.editedAt)}`}>
              edited
            </span>
          )}
          <time dateTime={message.createdAt} title={formatFullTime(message.createdAt)}>
            {formatTime(message.createdAt)}
          </time>
          {tick === undefined ? null : (
            <Ticks state={tick} onInfo={props.onInfo === undefined ? undefined : () => props.onInfo?.(message)} />
          )}
        </span>
      </div>
      {deleted || editing ? null : (
        <MessageActions store={store} message={message} onReply={props.onReply} onEdit={() => setEditing(true)} />
      )}
    </li>
  );
}

function PendingItem({ store, pending }: { readonly store: ChatStore; readonly pending: PendingMessage }) {
  return (
    <li className="message mine pending" data-client-message-id={pending.clientMessageId}>
      <div className="bubble">
        <span className="sr-only">You: </span>
        {pending.replyTo === undefined ? null : <ReplyQuote store={store} replyTo={pending.replyTo} />}
        {pending.attachments.length === 0 ? null : (
          <div className="attachments">
            {pending.attachments.map((attachment) => (
              <PendingAttachmentTile key={attachment.id} attachment={attachment} />
            ))}
          </div>
        )}
        {pending.text === '' ? null : (
          <p className="text">
            <LinkifiedText text={pending.text} />
          </p>
        )}
        <span className="meta">
          <Ticks state={pending.status} />
        </span>
        {pending.status === 'failed' ? (
          <span className="failed-actions">
            <span className="error">{pending.error ?? 'Not sent'}</span>
            <button type="button" className="small" onClick={() => store.retry(pending)}>
              Retry
            </button>
            <button type="button" className="small" onClick={() => store.dropPending(pending)}>
              Discard
            </button>
          </span>
        ) : null}
      </div>
    </li>
  );
}

const tickGlyphs: Readonly<Record<TickState, string>> = {
  sending: '◷',
  failed: '!',
  sent: '✓',
  delivered: '✓✓',
  read: '✓✓',
};

function Ticks({ state, onInfo }: { readonly state: TickState; readonly onInfo?: (() => void) | undefined }) {
  const label = tickLabels[state];
  const content = (
    <>
      <span aria-hidden="true">{tickGlyphs[state]}</span>
      <span className="sr-only">{label}</span>
    </>
  );
  if (onInfo === undefined || state === 'sending' || state === 'failed')
    return (
      <span className={`ticks ${state}`} data-state={state} title={label}>
        {content}
      </span>
    );
  return (
    <button
      type="button"
      className={`ticks ${state}`}
      data-state={state}
      title={`${label}: see who has it`}
      aria-label={`${label}. Show message info`}
      onClick={onInfo}
    >
      {content}
    </button>
  );
}
