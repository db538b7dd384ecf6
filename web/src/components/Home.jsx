import { useState } from 'preact/hooks';
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
      <h1 class="page-title">Home</h1>
      <Composer />
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
