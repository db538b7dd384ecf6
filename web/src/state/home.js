// The home timeline: loaded once, then kept current by `post.created` / `post.removed` pushes on
// the durable `home` stream (resumed after reconnects, so nothing is lost or shown twice).
import { signal } from '@preact/signals';
import { ensureViewed, putPost } from './posts.js';
import { client } from './session.js';

const PAGE = 20;

export const homeIds = signal([]); // newest first
export const homeState = signal('loading'); // loading | ready | error
export const homeMore = signal(false);
let cursor = null;
let started = false;

function add(ids) {
  const merged = new Set([...homeIds.value, ...ids]);
  homeIds.value = [...merged].sort((a, b) => b - a); // post ids grow with time
}

client.on('post.created', ({ body }) => {
  putPost(body.post);
  add([body.post.id]);
  ensureViewed(body.post);
});

client.on('post.removed', ({ body }) => {
  homeIds.value = homeIds.value.filter((id) => id !== body.post_id);
});

async function loadFirstPage() {
  try {
    const page = await client.request('timeline.home', { limit: PAGE });
    add(page.posts.map(putPost));
    cursor = page.cursor;
    homeMore.value = cursor !== null;
    homeState.value = 'ready';
  } catch (error) {
    console.error(error);
    homeState.value = 'error';
  }
}

export async function loadMoreHome() {
  if (cursor === null) return;
  const page = await client.request('timeline.home', { before: cursor, limit: PAGE });
  add(page.posts.map(putPost));
  cursor = page.cursor;
  homeMore.value = cursor !== null;
}

/** Subscribe first, then load: whatever is posted in between arrives as a push (deduplicated). */
export function startHome() {
  if (started) return;
  started = true;
  client.subscribe('home', { onFresh: loadFirstPage });
}

/** Show a post of our own at once (its push follows and is merged). */
export function showOwnPost(post) {
  add([post.id]);
}
