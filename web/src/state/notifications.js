// Notifications: the durable `notifications` stream, numbered by seq (deduplicated by it).
import { computed, signal } from '@preact/signals';
import { patchPost } from './posts.js';
import { client, me } from './session.js';

export const notifications = signal([]); // newest first: {seq, kind, actor_id, post_id?, comment_id?, created_at}
export const notificationsState = signal('loading');
const seenSeq = signal(0);
export const unreadCount = computed(() => notifications.value.filter((n) => n.seq > seenSeq.value).length);
let started = false;

function seenKey() {
  return `viora.notifications.seen.${me.value?.user_id}`;
}

function merge(items) {
  const bySeq = new Map(notifications.value.map((n) => [n.seq, n]));
  for (const item of items) bySeq.set(item.seq, item);
  notifications.value = [...bySeq.values()].sort((a, b) => b.seq - a.seq);
}

client.on('notification', ({ seq, body }) => {
  merge([{ seq, ...body, created_at: Date.now() / 1000, live: true }]);
  // What the notification says changed on one of our posts.
  if (body.kind === 'like' && body.post_id) patchPost(body.post_id, (p) => ({ likes: p.likes + 1 }));
  if (body.kind === 'comment' && body.post_id) patchPost(body.post_id, (p) => ({ comments: p.comments + 1 }));
});

async function loadFirstPage() {
  try {
    const page = await client.request('notifications.list', { limit: 40 });
    merge(page.notifications);
    notificationsState.value = 'ready';
  } catch (error) {
    console.error(error);
    notificationsState.value = 'error';
  }
}

export function startNotifications() {
  if (started) return;
  started = true;
  seenSeq.value = Number(localStorage.getItem(seenKey()) || 0);
  client.subscribe('notifications', { onFresh: loadFirstPage });
}

export function markNotificationsSeen() {
  const newest = notifications.value[0]?.seq ?? 0;
  if (newest <= seenSeq.value) return;
  seenSeq.value = newest;
  try {
    localStorage.setItem(seenKey(), String(newest));
  } catch {
    // storage disabled: unread counts restart with the page
  }
}
