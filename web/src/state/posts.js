// Every post the page knows, by id, each in its own signal: a like in one view shows in all.
import { signal } from '@preact/signals';
import { createOnce } from './creates.js';
import { client } from './session.js';

const posts = new Map(); // id -> signal(post)

export function postSignal(id) {
  let s = posts.get(id);
  if (!s) {
    s = signal(null);
    posts.set(id, s);
  }
  return s;
}

/** Store what the server said about a post; a bare view (a push) keeps the annotations we had. */
export function putPost(post) {
  const s = postSignal(post.id);
  s.value = { ...s.value, ...post };
  return post.id;
}

export function patchPost(id, change) {
  const s = posts.get(id);
  if (s?.value) s.value = { ...s.value, ...(typeof change === 'function' ? change(s.value) : change) };
}

/** Pushed and just-created posts come bare (ids of media only): fetch the viewer's view of them. */
export async function ensureViewed(post) {
  if (post.media_ids.length === 0 || postSignal(post.id).value?.media) return;
  await refreshPost(post.id);
}

export async function refreshPost(id) {
  try {
    const { post } = await client.request('post.get', { post_id: id });
    putPost(post);
  } catch (error) {
    if (error.code === 'not_found') patchPost(id, { removed: true });
  }
}

export async function toggleLike(id) {
  const post = postSignal(id).value;
  const liking = !post.liked;
  patchPost(id, (p) => ({ liked: liking, likes: Math.max(0, p.likes + (liking ? 1 : -1)) }));
  try {
    const { changed } = await client.request(liking ? 'post.like' : 'post.unlike', { post_id: id });
    if (!changed) patchPost(id, (p) => ({ likes: Math.max(0, p.likes + (liking ? -1 : 1)) }));
  } catch (error) {
    patchPost(id, (p) => ({ liked: !liking, likes: Math.max(0, p.likes + (liking ? -1 : 1)) }));
    throw error;
  }
}

export async function createPost(text, mediaIds) {
  const { post } = await createOnce('post.create', { text, media_ids: mediaIds });
  putPost(post);
  await ensureViewed(post);
  return post;
}

export async function deletePost(id) {
  await client.request('post.delete', { post_id: id });
  patchPost(id, { removed: true });
}

export async function listComments(postId, after) {
  return client.request('comment.list', { post_id: postId, after, limit: 50 });
}

export async function addComment(postId, text) {
  const { comment } = await createOnce('comment.create', { post_id: postId, text });
  patchPost(postId, (p) => ({ comments: p.comments + 1 }));
  return comment;
}

/** The files of a flagged item post views left out (the viewer clicked through): kept on the post. */
export async function revealMedia(postId, mediaId) {
  const { media } = await client.request('media.reveal', { post_id: postId, media_id: mediaId });
  patchPost(postId, (p) => ({ media: p.media.map((m) => (m.id === mediaId ? media : m)) }));
}

/** A moderator's verdict on a media item; the post is fetched again to show it. */
export async function decideMedia(postId, mediaId, verdict) {
  await client.request('moderation.decide', { media_id: mediaId, verdict });
  await refreshPost(postId);
}
