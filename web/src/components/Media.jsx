// A post's photos and videos. Before a file loads, its box shows the server's placeholder (mean
// colour + a 16-px preview). Media that moderation flagged is blurred behind a button; when the
// server withheld its files (you are not its owner, a moderator, nor opted in to sensitive media),
// a neutral box stands in, and its button asks for them (`media.reveal`).
import { useState } from 'preact/hooks';
import { aspectRatio, srcSet, thumbnail } from '../lib/media.js';
import { describeError } from '../protocol/errors.js';
import { decideMedia, revealMedia } from '../state/posts.js';
import { isModerator } from '../state/session.js';
import { Icon } from './Icon.jsx';

/** What the author is told about why their media is blurred (others are told nothing). */
function flagNote(reason) {
  if (!reason) return '';
  if (reason.startsWith('reviewed')) return 'A moderator marked this as sensitive. ';
  return `Flagged by the classifier (${reason}). `;
}

function MediaItem({ item, postId, label, single }) {
  const [revealed, setRevealed] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const [modError, setModError] = useState(null);
  const variants = item.variants;
  const flagged = item.moderation === 'flagged';
  const hidden = flagged && !revealed;

  async function reveal() {
    setModError(null);
    setRevealed(true); // before the files arrive, so they are not blurred for a frame
    try {
      await revealMedia(postId, item.id);
    } catch (error) {
      setRevealed(false);
      setModError(describeError(error));
    }
  }

  if (!variants && flagged) {
    return (
      <figure class="media media-withheld is-hidden" data-media-id={item.id} data-moderation="flagged">
        <button type="button" class="reveal" onClick={reveal}>
          <Icon name="eyeOff" size={26} />
          <strong>Sensitive content</strong>
          <span>Show</span>
        </button>
        {modError && (
          <figcaption class="form-error" role="alert">
            {modError}
          </figcaption>
        )}
      </figure>
    );
  }
  if (!variants) {
    return (
      <div class="media media-pending" role="img" aria-label={`${label} (still processing)`}>
        <span class="spinner" aria-hidden="true" />
      </div>
    );
  }
  const ratio = single ? aspectRatio(variants) : 1;
  const placeholder = variants.placeholder;
  const style = {
    aspectRatio: ratio ? String(ratio) : undefined,
    backgroundColor: placeholder?.color,
    backgroundImage: placeholder?.data_uri ? `url("${placeholder.data_uri}")` : undefined,
  };

  async function decide(verdict) {
    setModError(null);
    try {
      await decideMedia(postId, item.id, verdict);
    } catch (error) {
      setModError(describeError(error));
    }
  }

  return (
    <figure
      class={`media${hidden ? ' is-hidden' : ''}${loaded ? ' is-loaded' : ''}`}
      style={style}
      data-media-id={item.id}
      data-moderation={item.moderation}
    >
      {item.kind === 'video' && variants.video ? (
        <video
          src={hidden ? undefined : variants.video.url}
          poster={variants.poster?.url}
          controls={!hidden}
          preload="metadata"
          playsInline
          aria-label={label}
          onLoadedMetadata={() => setLoaded(true)}
        />
      ) : (
        <img
          src={thumbnail(variants, single ? 1080 : 480)?.url}
          srcset={srcSet(variants)}
          sizes={single ? '(min-width: 700px) 600px, 100vw' : '(min-width: 700px) 300px, 50vw'}
          alt={label}
          loading="lazy"
          decoding="async"
          onLoad={() => setLoaded(true)}
        />
      )}
      {hidden && (
        <button type="button" class="reveal" onClick={() => setRevealed(true)}>
          <Icon name="eyeOff" size={26} />
          <strong>Sensitive content</strong>
          <span>{flagNote(item.moderation_reason)}Click to view</span>
        </button>
      )}
      {isModerator.value && (
        <button
          type="button"
          class="mod-button"
          onClick={() => decide(flagged ? 'ok' : 'flagged')}
          title={flagged ? 'Clear the sensitive flag' : 'Mark as sensitive'}
        >
          <Icon name="shield" size={16} /> {flagged ? 'Clear flag' : 'Mark sensitive'}
        </button>
      )}
      {modError && (
        <figcaption class="form-error" role="alert">
          {modError}
        </figcaption>
      )}
    </figure>
  );
}

export function MediaGallery({ post }) {
  const items = post.media ?? post.media_ids.map((id) => ({ id, moderation: 'pending', variants: null }));
  const count = items.length;
  return (
    <div class={`gallery gallery-${Math.min(count, 4)}`}>
      {items.map((item, i) => (
        <MediaItem
          key={item.id}
          item={item}
          postId={post.id}
          single={count === 1}
          label={`${item.kind === 'video' ? 'Video' : 'Photo'} ${count > 1 ? `${i + 1} of ${count} ` : ''}in the post${
            post.text ? `: ${post.text.slice(0, 80)}` : ''
          }`}
        />
      ))}
    </div>
  );
}
