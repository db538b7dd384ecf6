import { useEffect, useState } from 'preact/hooks';
import { ago, isoTime } from '../lib/format.js';
import { describeError } from '../protocol/errors.js';
import { addComment, listComments } from '../state/posts.js';
import { nameOf, profileSignal } from '../state/profiles.js';
import { Avatar } from './Avatar.jsx';
import { FormError } from './FormError.jsx';

function Comment({ comment }) {
  const author = profileSignal(comment.author_id).value;
  const [shown, setShown] = useState(!comment.flagged);
  return (
    <li class="comment">
      <Avatar profile={author} userId={comment.author_id} size={30} />
      <div class="comment-body">
        <div class="comment-head">
          <a href={author ? `/u/${author.username}` : undefined} class="author-name">
            {nameOf(author)}
          </a>
          <time datetime={isoTime(comment.created_at)} class="muted">
            {ago(comment.created_at)}
          </time>
        </div>
        {shown ? (
          <p>{comment.text}</p>
        ) : (
          <button type="button" class="link-button" onClick={() => setShown(true)}>
            This comment may be offensive — show it
          </button>
        )}
      </div>
    </li>
  );
}

export function Comments({ postId }) {
  const [comments, setComments] = useState(null);
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const [sending, setSending] = useState(false);

  useEffect(() => {
    let live = true;
    listComments(postId)
      .then((page) => live && setComments(page.comments))
      .catch((e) => live && setError(describeError(e)));
    return () => {
      live = false;
    };
  }, [postId]);

  async function submit(event) {
    event.preventDefault();
    if (!text.trim()) return;
    setSending(true);
    setError(null);
    try {
      const comment = await addComment(postId, text.trim());
      setComments((list) => [...(list ?? []), comment]);
      setText('');
    } catch (e) {
      setError(describeError(e));
    } finally {
      setSending(false);
    }
  }

  const inputId = `comment-${postId}`;
  return (
    <div class="comments">
      {comments === null && !error && <p class="muted small">Loading comments…</p>}
      {comments?.length === 0 && <p class="muted small">No comments yet — be the first.</p>}
      {comments?.length > 0 && (
        <ul class="comment-list" aria-label="Comments">
          {comments.map((c) => (
            <Comment key={c.id} comment={c} />
          ))}
        </ul>
      )}
      <form class="inline-form" onSubmit={submit}>
        <label for={inputId} class="sr-only">
          Add a comment
        </label>
        <input
          id={inputId}
          class="input"
          placeholder="Add a comment…"
          maxLength={2000}
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <button type="submit" class="btn btn-primary btn-small" disabled={sending || !text.trim()}>
          Reply
        </button>
      </form>
      <FormError error={error} />
    </div>
  );
}
