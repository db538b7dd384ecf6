// "For you": posts near what you liked (the server's `timeline.for_you`, Qdrant's recommend),
// mixed with recent posts of people you follow. Loaded when the tab opens and on refresh; it is a
// ranking, not a stream, so it is not kept live.
import { signal } from '@preact/signals';
import { putPost } from './posts.js';
import { client } from './session.js';

const PAGE = 20;

export const forYouIds = signal([]);
export const forYouState = signal('idle'); // idle | loading | ready | error

export async function loadForYou() {
  forYouState.value = 'loading';
  try {
    const { posts } = await client.request('timeline.for_you', { limit: PAGE });
    forYouIds.value = posts.map(putPost);
    forYouState.value = 'ready';
  } catch (error) {
    console.error(error);
    forYouState.value = 'error';
  }
}
