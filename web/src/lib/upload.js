// Uploads go over HTTP (POST /media with the session token), not the websocket: XMLHttpRequest
// reports upload progress, which fetch() still cannot. The server answers 202 {media_id, status} at
// once; processing news then arrives as `media.progress` pushes on the websocket.
import { ProtocolError } from '../protocol/errors.js';

/**
 * Upload one file. `onProgress(fraction)` follows the bytes sent.
 * Returns {promise, abort}; the promise resolves with {media_id, status}.
 */
export function uploadMedia(file, token, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', '/media');
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status === 202 || xhr.status === 200) {
        onProgress(1);
        resolve(xhr.response);
        return;
      }
      const error = xhr.response?.error ?? {};
      reject(new ProtocolError(error.code || `http_${xhr.status}`, uploadRefusal(xhr.status, error.message)));
    };
    xhr.onerror = () => reject(new ProtocolError('disconnected', 'The upload was interrupted.'));
    xhr.onabort = () => reject(new ProtocolError('aborted', 'Upload cancelled.'));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

function uploadRefusal(status, message) {
  if (status === 413) return 'That file is too large.';
  if (status === 415) return 'Only photos (JPEG, PNG, WebP, GIF) and videos (MP4, MOV, WebM) can be posted.';
  if (status === 422) return message || 'That video is too long.';
  return message || `The upload failed (HTTP ${status}).`;
}

/** The owner's view of a media item (GET /media/{id}): used to catch up after a reconnect. */
export async function mediaStatus(mediaId, token) {
  const response = await fetch(`/media/${mediaId}`, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new ProtocolError(`http_${response.status}`, 'media status unavailable');
  return response.json();
}
