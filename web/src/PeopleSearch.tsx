/** Find people by username as you type (3 characters or more): matches to pick from. */
import { useEffect, useState } from 'react';
import type { ChatStore, PersonFound } from './store';

/** What a username may hold (the server refuses anything else, so nothing else is asked). */
const usernamePrefix = /^[A-Za-z0-9_.]{3,32}$/;
/** Quiet time after the last keystroke before a search goes out (each one counts against a limit). */
const typingPauseMs = 250;

type SearchState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'searching' }
  | { readonly kind: 'found'; readonly people: readonly PersonFound[] }
  | { readonly kind: 'failed'; readonly message: string };

export function PeopleSearch(props: {
  readonly store: ChatStore;
  readonly id: string;
  readonly label: string;
  /** People not to offer (already chosen, already members). */
  readonly exclude?: ReadonlySet<string>;
  readonly onPick: (person: PersonFound) => void;
}) {
  const { store, id, label, exclude, onPick } = props;
  const [query, setQuery] = useState('');
  const [state, setState] = useState<SearchState>({ kind: 'idle' });

  useEffect(() => {
    const prefix = query.trim();
    if (!usernamePrefix.test(prefix)) {
      setState({ kind: 'idle' });
      return;
    }
    let current = true;
    setState({ kind: 'searching' });
    const timer = setTimeout(() => {
      store.searchPeople(prefix).then(
        (people) => current && setState({ kind: 'found', people }),
        (error: unknown) =>
          current && setState({ kind: 'failed', message: error instanceof Error ? error.message : String(error) }),
      );
    }, typingPauseMs);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [query, store]);

  const people = state.kind === 'found' ? state.people.filter((person) => !exclude?.has(person.id)) : [];
  return (
    <div className="stack people-search">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="search"
        autoComplete="off"
        spellCheck={false}
        placeholder="Username, 3 letters or more"
        value={query}
        onChange={(event) => setQuery(event.target.value)}
        onKeyDown={(event) => {
          if (event.key !== 'Enter') return;
          // Never submits a form around it; with one match, Enter picks it.
          event.preventDefault();
          const [only, ...others] = people;
          if (only !== undefined && others.length === 0) {
            onPick(only);
            setQuery('');
          }
        }}
      />
      {state.kind === 'searching' ? <p className="hint">Searching…</p> : null}
      {state.kind === 'found' && people.length === 0 ? <p className="hint">No one with that username.</p> : null}
      {state.kind === 'failed' ? (
        <p className="hint" role="alert">
          {state.message}
        </p>
      ) : null}
      {people.length > 0 ? (
        <ul className="people-found" aria-label="People found">
          {people.map((person) => (
            <li key={person.id}>
              <button
                type="button"
                className="person"
                onClick={() => {
                  onPick(person);
                  setQuery('');
                }}
              >
                <span className="person-name">{person.name}</span>{' '}
                <span className="person-username">@{person.username}</span>
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
