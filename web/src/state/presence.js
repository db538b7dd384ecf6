// Who is online: asked with `presence.get` for the accounts on screen, then kept current by the
// `presence` pushes the server sends about accounts we follow (the server shows presence to
// followers only, so a follow or an unfollow changes what we may know). Asked again after a reconnect
// (pushes missed while offline are not replayed: presence is ephemeral).
import { signal } from '@preact/signals';
import { client } from './session.js';

/** user id -> {online, lastSeen (unix seconds or null)} */
export const presence = signal({});
const asked = new Set();

function record({ user_id: userId, online, last_seen: lastSeen }) {
  presence.value = { ...presence.value, [userId]: { online, lastSeen } };
}

client.on('presence', ({ body }) => record(body));
client.on('status', (status) => {
  if (status === 'online') asked.clear();
});

/** Make sure the presence of ``userIds`` is known (one request for those not asked yet). */
export function watchPresence(userIds) {
  const fresh = [...new Set(userIds)].filter((id) => id && !asked.has(id)).slice(0, 100);
  if (fresh.length === 0) return;
  for (const id of fresh) asked.add(id);
  client
    .request('presence.get', { user_ids: fresh })
    .then(({ presence: entries }) => entries.forEach(record))
    .catch(() => fresh.forEach((id) => asked.delete(id)));
}

/** A follow shows ``userId``'s presence (asked at once), an unfollow hides it again. */
export function followChanged(userId, following) {
  asked.delete(userId);
  if (following) {
    watchPresence([userId]);
    return;
  }
  const rest = { ...presence.value };
  delete rest[userId];
  presence.value = rest;
}
