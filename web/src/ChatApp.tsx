/** The signed-in layout: top bar, conversation list, the open chat, and the live region. */
import { useCallback, useEffect, useState } from 'react';
import { ChatView } from './ChatView';
import { ConversationList } from './ConversationList';
import { NewDirectDialog, NewGroupDialog } from './NewConversation';
import { PrivacySettings } from './PrivacySettings';
import { conversationInUrl, onOpenRequest, registerServiceWorker, showConversationInUrl } from './push';
import type { ConnectionState, UserView } from './sdk';
import { type ChatStore, useStore } from './store';

export function ChatApp(props: {
  readonly store: ChatStore;
  readonly profile: UserView;
  readonly onSignOut: () => void;
}) {
  const { store, profile } = props;
  useStore(store);
  useEffect(() => store.start(), [store]);
  const [dialog, setDialog] = useState<'direct' | 'group' | 'privacy' | undefined>(undefined);
  const closeDialog = useCallback(() => setDialog(undefined), []);
  const openConversation = useCallback(
    (conversationId: string) => {
      setDialog(undefined);
      store.open(conversationId);
    },
    [store],
  );
  const openId = store.openConversationId;
  // A notification opens the app at its conversation (`?c=`), or asks an open window to show it.
  useEffect(() => {
    registerServiceWorker();
    const fromUrl = conversationInUrl();
    if (fromUrl !== undefined) store.open(fromUrl);
    return onOpenRequest((conversationId) => openConversation(conversationId));
  }, [store, openConversation]);
  // The worker reads the open conversation from the URL: no notification for what is on screen.
  useEffect(() => showConversationInUrl(openId), [openId]);

  return (
    <div className="app" data-view={openId === undefined ? 'list' : 'chat'}>
      <header className="topbar">
        <h1 className="brand">Parley</h1>
        <MyIdentity profile={profile} />
        <button type="button" onClick={() => setDialog('privacy')}>
          Privacy
        </button>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <ConnectionBanner state={store.connection} />
      <nav className="sidebar" aria-label="Conversations">
        <div className="sidebar-actions">
          <button type="button" className="primary" onClick={() => setDialog('direct')}>
            New chat
          </button>
          <button type="button" onClick={() => setDialog('group')}>
            New group
          </button>
        </div>
        <ConversationList store={store} />
      </nav>
      <main className="main">
        {openId === undefined ? (
          <div className="empty-state">
            <h2>Welcome, {profile.name}</h2>
            <p>Pick a conversation, or start a new chat with someone’s user id.</p>
          </div>
        ) : (
          <ChatView key={openId} store={store} conversationId={openId} />
        )}
      </main>
      <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="live-region">
        {store.announcement}
      </div>
      {dialog === 'direct' ? (
        <NewDirectDialog store={store} onClose={closeDialog} onCreated={openConversation} />
      ) : null}
      {dialog === 'group' ? <NewGroupDialog store={store} onClose={closeDialog} onCreated={openConversation} /> : null}
      {dialog === 'privacy' ? <PrivacySettings store={store} onClose={closeDialog} /> : null}
    </div>
  );
}

function MyIdentity({ profile }: { readonly profile: UserView }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(profile.id).catch(() => undefined);
    setCopied(true);
    window.setTimeout(() => setCopied(false), 1500);
  };
  return (
    <div className="me">
      <span className="me-name">
        {profile.name}
        {'username' in profile ? <span className="muted"> @{profile.username}</span> : null}
      </span>
      <span className="me-id">
        <span className="muted">Your user id:</span>{' '}
        <code data-testid="my-user-id" title="Share this id so others can start a chat with you">
          {profile.id}
        </code>
        <button type="button" className="small" onClick={copy} aria-label="Copy your user id">
          {copied ? 'Copied' : 'Copy'}
        </button>
      </span>
    </div>
  );
}

const bannerText: Partial<Record<ConnectionState, string>> = {
  idle: 'Connecting…',
  connecting: 'Connecting…',
  syncing: 'Catching up…',
  offline: 'You are offline. Messages you send will go out when the connection is back.',
  closed: 'Disconnected.',
};

function ConnectionBanner({ state }: { readonly state: ConnectionState }) {
  const text = bannerText[state];
  return (
    <div className="banner-slot" role="status">
      {text === undefined ? null : (
        <p className={`banner banner-${state}`} data-testid="connection-banner" data-state={state}>
          {text}
        </p>
      )}
    </div>
  );
}
