import { useState } from 'preact/hooks';
import { forYouIds, forYouState, loadForYou } from '../state/foryou.js';
import { homeIds, homeMore, homeState, loadMoreHome } from '../state/home.js';
import { Composer } from './Composer.jsx';
import { PostCard } from './PostCard.jsx';

export function PostList({ ids, label }) {
  return (
    <div class="post-list" role="feed" aria-label={label} aria-busy="false">
      {ids.map((id) => (
        <PostCard key={id} id={id} />
      ))}
    </div>
  );
}

export function HomePage() {
  const [tab, setTab] = useState('following');

  function show(next) {
    setTab(next);
    if (next === 'for-you') loadForYou();
  }

  return (
    <>
      <h1 class="page-title">Home</h1>
      <Composer />
      <div class="segmented feed-switch" role="group" aria-label="Timeline">
        <button type="button" class={tab === 'following' ? 'is-active' : ''} aria-pressed={tab === 'following'} onClick={() => show('following')}>
          Following
        </button>
        <button type="button" class={tab === 'for-you' ? 'is-active' : ''} aria-pressed={tab === 'for-you'} onClick={() => show('for-you')}>
          For you
        </button>
      </div>
      {tab === 'following' ? <FollowingFeed /> : <ForYouFeed />}
    </>
  );
}

function FollowingFeed() {
  const [loadingMore, setLoadingMore] = useState(false);
  const ids = homeIds.value;

  async function more() {
    setLoadingMore(true);
    try {
      await loadMoreHome();
    } finally {
      setLoadingMore(false);
    }
  }

  return (
    <>
      {homeState.value === 'loading' && ids.length === 0 && <SkeletonPosts />}
      {homeState.value === 'error' && <p class="panel glass">The timeline could not be loaded. It will retry when you reconnect.</p>}
      {homeState.value === 'ready' && ids.length === 0 && (
        <section class="panel glass empty">
          <h2>Your timeline is quiet</h2>
          <p>Follow people to see their posts here — find them with <a href="/search">Search</a>.</p>
        </section>
      )}
      <PostList ids={ids} label="Home timeline" />
      {homeMore.value && (
        <button type="button" class="btn btn-ghost btn-block" onClick={more} disabled={loadingMore}>
          {loadingMore ? 'Loading…' : 'Show older posts'}
        </button>
      )}
    </>
  );
}

function ForYouFeed() {
  const ids = forYouIds.value;
  const state = forYouState.value;
  return (
    <>
      {state === 'loading' && ids.length === 0 && <SkeletonPosts />}
      {state === 'error' && <p class="panel glass">Recommendations could not be loaded. Try again in a moment.</p>}
      {state === 'ready' && ids.length === 0 && (
        <section class="panel glass empty">
          <h2>Nothing to suggest yet</h2>
          <p>Like a few posts: “For you” finds more like them.</p>
        </section>
      )}
      <PostList ids={ids} label="For you" />
      {state === 'ready' && (
        <button type="button" class="btn btn-ghost btn-block" onClick={loadForYou}>
          Refresh suggestions
        </button>
      )}
    </>
  );
}

export function SkeletonPosts({ n = 2 }) {
  return (
    <div aria-hidden="true">
      {Array.from({ length: n }, (_, i) => (
        <div key={i} class="post glass skeleton">
          <div class="skeleton-line w40" />
          <div class="skeleton-line w80" />
          <div class="skeleton-block" />
        </div>
      ))}
    </div>
  );
}
