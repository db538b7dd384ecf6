import { useState } from 'preact/hooks';
import { ago, count, isoTime, longTime } from '../lib/format.js';
import { describeError } from '../protocol/errors.js';
import { deletePost, postSignal, toggleLike } from '../state/posts.js';
import { nameOf, profileSignal } from '../state/profiles.js';
import { me } from '../state/session.js';
import { Avatar } from './Avatar.jsx';
import { Comments } from './Comments.jsx';
import { Icon } from './Icon.jsx';
import { MediaGallery } from './Media.jsx';
import { FormError } from './FormError.jsx';

const MENTION = /(@[a-z0-9_]{3,32})/gi;

function RichText({ text }) {
  return (
    <p class="post-text">
      {text.split(MENTION).map((part, i) =>
        i % 2 === 1 ? (
          <a key={i} href={`/u/${part.slice(1).toLowerCase()}`} class="mention">
            {part}
          </a>
        ) : (
          part
        ),
      )}
    </p>
  );
}

export function PostCard({ id, openComments = false }) {
  const post = postSignal(id).value;
  const author = post ? profileSignal(post.author_id).value : null;
  const [commentsOpen, setCommentsOpen] = useState(openComments);
  const [textShown, setTextShown] = useState(false);
  const [error, setError] = useState(null);
  if (!post || post.removed) return null;
  const mine = post.author_id === me.value?.user_id;
  const titleId = `post-${id}-author`;

  async function like() {
    setError(null);
    try {
      await toggleLike(id);
    } catch (e) {
      setError(describeError(e));
    }
  }

  async function remove() {
    if (!confirm('Delete this post?')) return;
    try {
      await deletePost(id);
    } catch (e) {
      setError(describeError(e));
    }
  }

  return (
    <article class="post glass" aria-labelledby={titleId} data-post-id={id}>
      <header class="post-head">
        <a href={author ? `/u/${author.username}` : undefined} class="post-author">
          <Avatar profile={author} userId={post.author_id} />
          <span class="post-author-text">
            <strong id={titleId}>{nameOf(author)}</strong>
            <span class="muted">@{author?.username ?? '…'}</span>
          </span>
        </a>
        <a href={`/p/${id}`} class="post-time muted" title={longTime(post.created_at)}>
          <time datetime={isoTime(post.created_at)}>{ago(post.created_at)}</time>
        </a>
        {mine && (
          <button type="button" class="icon-button" onClick={remove} aria-label="Delete post" title="Delete post">
            <Icon name="trash" size={18} />
          </button>
        )}
      </header>
      {post.text &&
        (post.text_flagged && !textShown && !mine ? (
          <button type="button" class="link-button" onClick={() => setTextShown(true)}>
            This text may be offensive — show it
          </button>
        ) : (
          <RichText text={post.text} />
        ))}
      {post.media_ids.length > 0 && <MediaGallery post={post} />}
      <footer class="post-actions">
        <button
          type="button"
          class={`action like${post.liked ? ' is-on' : ''}`}
          aria-pressed={Boolean(post.liked)}
          onClick={like}
        >
          <Icon name="heart" size={20} />
          <span class="sr-only">{post.liked ? 'Unlike' : 'Like'}, </span>
          <span class="action-count" data-testid="likes">
            {count(post.likes)}
          </span>
          <span class="sr-only"> {post.likes === 1 ? 'like' : 'likes'}</span>
        </button>
        <button
          type="button"
          class={`action${commentsOpen ? ' is-on' : ''}`}
          aria-expanded={commentsOpen}
          onClick={() => setCommentsOpen(!commentsOpen)}
        >
          <Icon name="comment" size={20} />
          <span class="sr-only">Comments, </span>
          <span class="action-count">{count(post.comments)}</span>
        </button>
        {post.alignment !== null && post.alignment !== undefined && post.media_ids.length > 0 && (
          <span class="alignment muted" title="How well the caption matches the media (0–100)">
            <Icon name="sparkle" size={16} /> {Math.round(post.alignment)}
          </span>
        )}
      </footer>
      <FormError error={error} />
      {commentsOpen && <Comments postId={id} />}
    </article>
  );
}
