// Semantic search: describe a moment in words; photos and videos come back by what they show
// (their captions need not say it). A query that looks like a username also finds that person.
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { thumbnail } from '../lib/media.js';
import { describeError } from '../protocol/errors.js';
import { nameOf } from '../state/profiles.js';
import { searchAll } from '../state/search.js';
import { Avatar } from './Avatar.jsx';
import { Icon } from './Icon.jsx';
import { FormError } from './FormError.jsx';

function Result({ result }) {
  const media = result.post.media?.find((m) => m.id === result.media_id);
  const thumb = thumbnail(media?.variants, 480);
  const flagged = media?.moderation === 'flagged';
  const [revealed, setRevealed] = useState(false);
  const hidden = flagged && !revealed;
  return (
    <li class={`result${hidden ? ' is-hidden' : ''}`}>
      <a
        href={`/p/${result.post.id}`}
        class="result-link"
        style={{ backgroundColor: media?.variants?.placeholder?.color }}
      >
        {thumb && <img src={thumb.url} alt={result.post.text || `${result.kind} result`} loading="lazy" />}
        <span class="result-meta">
          <span class="chip">{result.kind}</span>
          <span class="chip" title="Similarity to your words">
            {Math.round(result.similarity * 100)}%
          </span>
        </span>
      </a>
      {hidden && (
        <button type="button" class="reveal" onClick={() => setRevealed(true)}>
          <Icon name="eyeOff" size={22} />
          <strong>Sensitive</strong>
          <span>Click to view</span>
        </button>
      )}
    </li>
  );
}

export function SearchPage() {
  const { query: params, route, path } = useLocation();
  const initial = params.q ?? '';
  const [text, setText] = useState(initial);
  const [state, setState] = useState(initial ? 'loading' : 'idle');
  const [found, setFound] = useState({ people: [], results: [] });
  const [error, setError] = useState(null);

  useEffect(() => {
    if (!initial.trim()) return;
    let live = true;
    setState('loading');
    setError(null);
    searchAll(initial)
      .then((r) => {
        if (!live) return;
        setFound(r);
        setState('done');
      })
      .catch((e) => {
        if (!live) return;
        setError(describeError(e));
        setState('idle');
      });
    return () => {
      live = false;
    };
  }, [initial]);

  function submit(event) {
    event.preventDefault();
    if (text.trim()) route(`${path}?q=${encodeURIComponent(text.trim())}`);
  }

  return (
    <>
      <h1 class="page-title">Search</h1>
      <form class="search-form glass" role="search" onSubmit={submit}>
        <label for="search-input" class="sr-only">
          Search photos, videos and people
        </label>
        <Icon name="search" />
        <input
          id="search-input"
          type="search"
          placeholder="Describe a moment — “a cat in the sun” — or a @username"
          value={text}
          maxLength={500}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button type="submit" class="btn btn-primary btn-small">
          Search
        </button>
      </form>
      <FormError error={error} />
      <div aria-live="polite" aria-busy={state === 'loading'}>
        {state === 'loading' && <p class="muted">Searching…</p>}
        {state === 'done' && found.people.length > 0 && (
          <section class="panel glass" aria-labelledby="people-title">
            <h2 id="people-title" class="panel-title">
              People
            </h2>
            <ul class="people">
              {found.people.map((p) => (
                <li key={p.user_id}>
                  <a href={`/u/${p.username}`} class="person">
                    <Avatar profile={p} size={40} />
                    <span>
                      <strong>{nameOf(p)}</strong>
                      <span class="muted"> @{p.username}</span>
                    </span>
                  </a>
                </li>
              ))}
            </ul>
          </section>
        )}
        {state === 'done' && (
          <section aria-labelledby="media-title">
            <h2 id="media-title" class="section-title">
              Photos and videos
            </h2>
            {found.results.length === 0 ? (
              <p class="panel glass muted">Nothing matches yet.</p>
            ) : (
              <ul class="results">
                {found.results.map((r) => (
                  <Result key={`${r.post.id}:${r.media_id}`} result={r} />
                ))}
              </ul>
            )}
          </section>
        )}
      </div>
    </>
  );
}
