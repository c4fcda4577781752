/** Start a direct chat with someone found by username (or by user id), or create a group with a name and members. */
import { type FormEvent, useState } from 'react';
import { ErrorAlert, useAction } from './action';
import { Dialog } from './Dialog';
import { PeopleSearch } from './PeopleSearch';
import type { ChatStore, PersonFound } from './store';

/** User ids pasted as a list: separated by spaces, commas or new lines. */
export function parseUserIds(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).filter((id) => id !== ''))];
}

interface DialogProps {
  readonly store: ChatStore;
  readonly onClose: () => void;
  readonly onCreated: (conversationId: string) => void;
}

export function NewDirectDialog({ store, onClose, onCreated }: DialogProps) {
  const [userId, setUserId] = useState('');
  const { busy, error, setError, run } = useAction({ busyAfterSuccess: true });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const id = userId.trim();
    if (id === store.myId) {
      setError('That is your own user id.');
      return;
    }
    await run(async () => onCreated(await store.createDirect(id)));
  };

  return (
    <Dialog title="New chat" onClose={onClose}>
      <PeopleSearch
        store={store}
        id="direct-find"
        label="Find people"
        exclude={new Set([store.myId])}
        onPick={(person) => void run(async () => onCreated(await store.createDirect(person.id)))}
      />
      <form onSubmit={submit} className="stack">
        <label htmlFor="direct-user-id">Or their user id</label>
        <input
          id="direct-user-id"
          required
          autoComplete="off"
          spellCheck={false}
          aria-describedby="direct-user-id-hint"
          value={userId}
          onChange={(event) => setUserId(event.target.value)}
        />
        <p id="direct-user-id-hint" className="hint">
          Ask them for the id shown at the top of their Parley window.
        </p>
        <ErrorAlert error={error} />
        <div className="row end">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            Start chat
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function NewGroupDialog({ store, onClose, onCreated }: DialogProps) {
  const [name, setName] = useState('');
  const [members, setMembers] = useState('');
  const [picked, setPicked] = useState<readonly PersonFound[]>([]);
  const { busy, error, run } = useAction({ busyAfterSuccess: true });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const chosen = new Set([...picked.map((person) => person.id), ...parseUserIds(members)]);
    const memberIds = [...chosen].filter((id) => id !== store.myId);
    await run(async () => onCreated(await store.createGroup(name.trim(), memberIds)));
  };

  return (
    <Dialog title="New group" onClose={onClose}>
      <form onSubmit={submit} className="stack">
        <label htmlFor="group-name">Group name</label>
        <input
          id="group-name"
          required
          maxLength={100}
          autoComplete="off"
          value={name}
          onChange={(event) => setName(event.target.value)}
        />
        <PeopleSearch
          store={store}
          id="group-find"
          label="Add people"
          exclude={new Set([store.myId, ...picked.map((person) => person.id)])}
          onPick={(person) => setPicked((chosen) => [...chosen, person])}
        />
        {picked.length > 0 ? (
          <ul className="people-picked" aria-label="Members chosen">
            {picked.map((person) => (
              <li key={person.id}>
                {person.name} <span className="person-username">@{person.username}</span>{' '}
                <button
                  type="button"
                  className="small"
                  aria-label={`Remove ${person.name}`}
                  onClick={() => setPicked((chosen) => chosen.filter((other) => other.id !== person.id))}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
        ) : null}
        <label htmlFor="group-members">Or members’ user ids</label>
        <textarea
          id="group-members"
          rows={3}
          spellCheck={false}
          aria-describedby="group-members-hint"
          value={members}
          onChange={(event) => setMembers(event.target.value)}
        />
        <p id="group-members-hint" className="hint">
          One per line, or separated by commas. You are added as the group’s admin.
        </p>
        <ErrorAlert error={error} />
        <div className="row end">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            Create group
          </button>
        </div>
      </form>
    </Dialog>
  );
}
