// Compose a post: text and up to 10 photos/videos. Each file uploads at once with a progress bar,
// then shows the server's processing state until its thumbnail arrives.
import { useRef, useState } from 'preact/hooks';
import { thumbnail } from '../lib/media.js';
import { describeError } from '../protocol/errors.js';
import { showOwnPost } from '../state/home.js';
import { createPost } from '../state/posts.js';
import { profileSignal } from '../state/profiles.js';
import { me } from '../state/session.js';
import {
  addFiles,
  attachments,
  attachmentsReady,
  clearAttachments,
  MAX_ATTACHMENTS,
  removeAttachment,
} from '../state/uploads.js';
import { Avatar } from './Avatar.jsx';
import { Icon } from './Icon.jsx';
import { FormError } from './FormError.jsx';

const MAX_TEXT = 5000;

function phaseLabel(a) {
  switch (a.phase) {
    case 'uploading':
      return `Uploading ${Math.round(a.sent * 100)}%`;
    case 'queued':
      return 'Queued';
    case 'running':
      return `Processing ${Math.round((a.progress ?? 0) * 100)}%`;
    case 'ready':
      return 'Ready';
    default:
      return 'Failed';
  }
}

function Attachment({ a }) {
  const uploading = a.phase === 'uploading';
  const done = a.phase === 'ready' || a.phase === 'failed';
  const fraction = uploading ? a.sent : a.phase === 'running' ? (a.progress ?? 0) : a.phase === 'ready' ? 1 : 0;
  const thumb = a.phase === 'ready' ? thumbnail(a.variants, 160) : null;
  const label = phaseLabel(a);
  return (
    <li class={`attachment phase-${a.phase}`} data-phase={a.phase} data-media-id={a.mediaId ?? undefined}>
      <div class="attachment-frame">
        {thumb ? (
          <img class="attachment-thumb is-processed" src={thumb.url} alt={`${a.name}, processed`} />
        ) : a.kind === 'video' ? (
          <video class="attachment-thumb" src={a.preview} muted aria-label={a.name} />
        ) : (
          <img class="attachment-thumb" src={a.preview} alt={a.name} />
        )}
        {!done && <span class="attachment-shade" aria-hidden="true" />}
        <button
          type="button"
          class="attachment-remove"
          onClick={() => removeAttachment(a.key)}
          aria-label={`Remove ${a.name}`}
        >
          <Icon name="x" size={14} />
        </button>
      </div>
      <div
        class="progress"
        role="progressbar"
        aria-label={`${a.name}: ${label}`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(fraction * 100)}
      >
        <span
          class={`progress-bar${a.phase === 'queued' ? ' is-waiting' : ''}`}
          style={{ transform: `scaleX(${a.phase === 'queued' ? 1 : fraction})` }}
        />
      </div>
      <span class="attachment-state" title={a.error ?? undefined}>
        {a.phase === 'ready' && <Icon name="check" size={14} />} {a.phase === 'failed' ? a.error || label : label}
      </span>
    </li>
  );
}

export function Composer() {
  const user = me.value;
  const profile = profileSignal(user.user_id).value;
  const [text, setText] = useState('');
  const [posting, setPosting] = useState(false);
  const [error, setError] = useState(null);
  const fileInput = useRef(null);
  const items = attachments.value;
  const ready = attachmentsReady();
  const canPost = !posting && ready && (text.trim().length > 0 || items.length > 0) && text.length <= MAX_TEXT;

  async function submit(event) {
    event.preventDefault();
    if (!canPost) return;
    setPosting(true);
    setError(null);
    try {
      const post = await createPost(
        text.trim(),
        items.map((a) => a.mediaId),
      );
      showOwnPost(post);
      setText('');
      clearAttachments();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setPosting(false);
    }
  }

  function pick(event) {
    addFiles(event.currentTarget.files);
    event.currentTarget.value = '';
  }

  function onDrop(event) {
    event.preventDefault();
    if (event.dataTransfer?.files?.length) addFiles(event.dataTransfer.files);
  }

  const waiting = items.length > 0 && !ready;
  return (
    <form
      class="composer glass"
      onSubmit={submit}
      onDragOver={(e) => e.preventDefault()}
      onDrop={onDrop}
      aria-label="New post"
    >
      <div class="composer-row">
        <Avatar profile={profile} userId={user.user_id} />
        <label for="compose-text" class="sr-only">
          What do you want to share?
        </label>
        <textarea
          id="compose-text"
          class="composer-text"
          placeholder="Share a moment…"
          rows={2}
          maxLength={MAX_TEXT}
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) submit(e);
          }}
        />
      </div>
      {items.length > 0 && (
        <ul class="attachments" aria-label="Attachments">
          {items.map((a) => (
            <Attachment key={a.key} a={a} />
          ))}
        </ul>
      )}
      <div class="composer-bar">
        <input
          ref={fileInput}
          id="compose-files"
          type="file"
          class="sr-only"
          accept="image/jpeg,image/png,image/webp,image/gif,video/mp4,video/quicktime,video/webm"
          multiple
          onChange={pick}
          disabled={items.length >= MAX_ATTACHMENTS}
        />
        <label for="compose-files" class="btn btn-ghost btn-small" title="Add photos or videos">
          <Icon name="image" size={18} /> Photo / video
        </label>
        <span class="composer-hint muted small" aria-live="polite">
          {waiting ? 'Waiting for processing…' : text.length > MAX_TEXT - 200 ? `${MAX_TEXT - text.length} left` : ''}
        </span>
        <button type="submit" class="btn btn-primary" disabled={!canPost}>
          {posting ? 'Posting…' : 'Post'}
        </button>
      </div>
      <FormError error={error} />
    </form>
  );
}
