// Search: semantic search of photos and videos, plus people by exact username.
import { putPost } from './posts.js';
import { loadProfile } from './profiles.js';
import { client } from './session.js';

const USERNAME = /^@?([a-z0-9_]{3,32})$/i;

export async function searchAll(query) {
  const trimmed = query.trim();
  const asUsername = USERNAME.exec(trimmed);
  const [media, person] = await Promise.all([
    client.request('search', { query: trimmed, limit: 24 }),
    asUsername ? loadProfile({ username: asUsername[1].toLowerCase() }).catch(() => null) : null,
  ]);
  for (const result of media.results) putPost(result.post);
  return { people: person ? [person] : [], results: media.results };
}
