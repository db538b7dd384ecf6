// Profiles by user id (cached: post cards, conversations and notifications all name people).
import { signal } from '@preact/signals';
import { followChanged } from './presence.js';
import { client } from './session.js';

const profiles = new Map(); // user id -> signal(profile | null)
const loading = new Map(); // user id -> promise

export function profileSignal(userId) {
  let s = profiles.get(userId);
  if (!s) {
    s = signal(null);
    profiles.set(userId, s);
  }
  if (s.value === null && !loading.has(userId)) {
    loading.set(
      userId,
      loadProfile({ user_id: userId })
        .catch(() => {})
        .finally(() => loading.delete(userId)),
    );
  }
  return s;
}

function remember(profile) {
  const s = profiles.get(profile.user_id) ?? signal(null);
  profiles.set(profile.user_id, s);
  s.value = profile;
  return profile;
}

/** profile.get by {user_id} or {username}. */
export async function loadProfile(query) {
  return remember(await client.request('profile.get', query));
}

export async function setFollowing(userId, follow) {
  const s = profiles.get(userId);
  const before = s?.value;
  if (before) {
    s.value = { ...before, you_follow: follow, followers: Math.max(0, before.followers + (follow ? 1 : -1)) };
  }
  try {
    const { changed } = await client.request(follow ? 'follow' : 'unfollow', { user_id: userId });
    if (!changed && before) s.value = { ...s.value, followers: before.followers };
    followChanged(userId, follow);
  } catch (error) {
    if (before) s.value = before;
    throw error;
  }
}

export async function updateMyProfile(changes) {
  const { profile } = await client.request('profile.update', changes);
  const s = profiles.get(profile.user_id);
  return remember({ ...s?.value, ...profile });
}

export async function userPosts(userId, before) {
  return client.request('timeline.user', { user_id: userId, before, limit: 20 });
}

/** A display name, falling back to the username, then to a placeholder while loading. */
export function nameOf(profile) {
  return profile?.display_name || profile?.username || '…';
}
