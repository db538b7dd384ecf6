// The one protocol client of the page, and who is signed in.
import { signal } from '@preact/signals';
import { VioraClient } from '../protocol/client.js';

const TOKEN_KEY = 'viora.token';

function websocketUrl() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/ws`;
}

function storedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: sign in on every visit
  }
}

function storeToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled
  }
}

export const client = new VioraClient({ url: websocketUrl(), token: storedToken(), onToken: storeToken });

/** {user_id, username} of the signed-in user, or null. */
export const me = signal(null);
/** connecting | online | reconnecting | stopped */
export const connection = signal('connecting');
/** True until we know whether a stored token still signs us in. */
export const booting = signal(true);
/** Whether this account may review moderation (probed once per sign-in). */
export const isModerator = signal(false);

client.on('status', (status) => {
  connection.value = status;
});
client.on('signedin', (user) => {
  if (me.value?.user_id !== user.user_id) {
    me.value = user;
    probeModerator();
  }
  booting.value = false;
});
client.on('signedout', () => {
  booting.value = false;
  if (me.value === null) return; // a stale stored token: the sign-in screen shows
  // Everything on the page belonged to the old account: start afresh.
  me.value = null;
  location.assign('/');
});
client.on('ready', () => {
  booting.value = false;
});

async function probeModerator() {
  try {
    await client.request('moderation.review', { limit: 1 });
    isModerator.value = true;
  } catch {
    isModerator.value = false;
  }
}

export async function signOut() {
  try {
    await client.logout();
  } catch {
    location.assign('/'); // the token is dropped locally either way
  }
}

// Tests and the curious can reach the client from the console (it holds nothing the page does not).
globalThis.viora = { client };
client.start();
