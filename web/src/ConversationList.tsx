/** Conversations, most recently active first, with the last message and unread count. */
import { useEffect } from 'react';
import { formatListTime, previewOf } from './format';
import type { ChatStore, ConversationEntry } from './store';

export function ConversationList({ store }: { readonly store: ChatStore }) {
  const conversations = store.conversations();
  if (!store.listLoaded && store.listError === undefined) return <p className="muted pad">Loading conversations…</p>;
  return (
    <>
      {store.listError === undefined ? null : (
        <p className="error pad" role="alert">
          Could not load conversations: {store.listError}{' '}
          <button type="button" className="small" onClick={() => void store.refreshConversations()}>
            Retry
          </button>
        </p>
      )}
      {conversations.length === 0 ? (
        <p className="muted pad">No conversations yet.</p>
      ) : (
        <ul className="conversation-list">
          {conversations.map((summary) => (
            <ConversationItem
              key={summary.id}
              store={store}
              summary={summary}
              selected={summary.id === store.openConversationId}
            />
          ))}
        </ul>
      )}
    </>
  );
}

function ConversationItem(props: {
  readonly store: ChatStore;
  readonly summary: ConversationEntry;
  readonly selected: boolean;
}) {
  const { store, summary } = props;
  useEffect(() => {
    // Direct chats are named after the other member, who only the conversation itself names.
    void store.loadConversation(summary.id);
  }, [store, summary.id]);
  const title = store.title(summary.id);
  const preview = previewOf(summary.lastMessage, store.nameOf, store.myId, summary.type === 'group');
  const time = summary.lastMessageAt ?? summary.createdAt;
  const unread = summary.unreadCount;
  return (
    <li>
      <button
        type="button"
        className="conversation"
        aria-current={props.selected ? 'true' : undefined}
        data-conversation-id={summary.id}
        onClick={() => store.open(summary.id)}
      >
        <span className={`avatar ${summary.type}`} aria-hidden="true">
          {summary.type === 'group' ? '#' : title.charAt(0).toUpperCase()}
        </span>
        <span className="conversation-text">
          <span className="conversation-top">
            <span className="conversation-title">{title}</span>
            <time className="muted" dateTime={time}>
              {formatListTime(time)}
            </time>
          </span>
          <span className="conversation-bottom">
            <span className="preview">{preview}</span>
            {unread > 0 ? (
              <span className="badge" data-testid="unread-count">
                <span aria-hidden="true">{unread}</span>
                <span className="sr-only">{unread === 1 ? '1 unread message' : `${unread} unread messages`}</span>
              </span>
            ) : null}
          </span>
        </span>
      </button>
    </li>
  );
}
