// The composer's attachments: each file is uploaded at once (bytes → progress bar), then processed
// by the server (queued → running → ready with thumbnails, or failed), as `media.progress` says.
import { signal } from '@preact/signals';
import { mediaStatus, uploadMedia } from '../lib/upload.js';
import { client } from './session.js';

export const MAX_ATTACHMENTS = 10;
const FINAL = new Set(['ready', 'failed']);

/** [{key, name, kind, preview, phase, sent, progress, mediaId, variants, error}] */
export const attachments = signal([]);
const early = new Map(); // media id -> progress that arrived before the upload's HTTP answer
let nextKey = 1;

function update(key, change) {
  attachments.value = attachments.value.map((a) => (a.key === key ? { ...a, ...change } : a));
}

function applyProgress(body) {
  const target = attachments.value.find((a) => a.mediaId === body.media_id);
  if (!target) {
    early.set(body.media_id, body);
    return;
  }
  if (FINAL.has(target.phase)) return; // a late `running` must not undo `ready`
  update(target.key, {
    phase: body.state,
    progress: body.progress ?? (body.state === 'ready' ? 1 : target.progress),
    variants: body.variants ?? target.variants,
    error: body.state === 'failed' ? body.reason || 'Processing failed.' : null,
  });
}

client.on('media.progress', ({ body }) => applyProgress(body));

// Progress pushes are not replayed after a reconnect: ask for the items still in the works.
client.on('ready', ({ reconnected }) => {
  if (!reconnected) return;
  for (const a of attachments.value) {
    if (a.mediaId !== null && !FINAL.has(a.phase)) {
      mediaStatus(a.mediaId, client.token)
        .then((status) => applyProgress({ ...status, media_id: a.mediaId }))
        .catch(() => {});
    }
  }
});

export function addFiles(files) {
  const room = MAX_ATTACHMENTS - attachments.value.length;
  for (const file of [...files].slice(0, Math.max(0, room))) {
    const key = nextKey++;
    const kind = file.type.startsWith('video/') ? 'video' : 'image';
    const item = {
      key,
      name: file.name,
      kind,
      preview: URL.createObjectURL(file),
      phase: 'uploading',
      sent: 0,
      progress: 0,
      mediaId: null,
      variants: null,
      error: null,
      abort: null,
    };
    const upload = uploadMedia(file, client.token, (sent) => update(key, { sent }));
    item.abort = upload.abort;
    attachments.value = [...attachments.value, item];
    upload.promise.then(
      ({ media_id: mediaId, status }) => {
        update(key, { mediaId, phase: status || 'queued', sent: 1 });
        const first = early.get(mediaId);
        if (first) {
          early.delete(mediaId);
          applyProgress(first);
        }
      },
      (error) => update(key, { phase: 'failed', error: error.message }),
    );
  }
}

export function removeAttachment(key) {
  const item = attachments.value.find((a) => a.key === key);
  if (!item) return;
  if (item.phase === 'uploading') item.abort?.();
  URL.revokeObjectURL(item.preview);
  attachments.value = attachments.value.filter((a) => a.key !== key);
}

export function clearAttachments() {
  for (const a of attachments.value) URL.revokeObjectURL(a.preview);
  attachments.value = [];
}

/** Whether the post can go: every attachment processed (failed ones must be removed first). */
export function attachmentsReady() {
  return attachments.value.every((a) => a.phase === 'ready');
}
