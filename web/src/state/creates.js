// Requests that create something — a post, a comment, a message — carry a client key, so that a
// retry after a lost reply cannot create it twice (protocol/PROTOCOL.md, "Retrying a request that
// creates something"). One user action is one key: the resends made here after a dropped socket
// or a timeout reuse it, and so does the user's own retry of the same content (pressing Post again
// on the draft still shown after an error). A key is forgotten once the server has surely answered.
import { ProtocolError } from '../protocol/errors.js';
import { client } from './session.js';

/** No reply came: sent again at once under the same key (the socket comes back by itself). */
const RESENT = new Set(['disconnected', 'timeout']);
/** It may or may not have happened: the key is kept for the user's retry. */
const MAYBE_DONE = new Set([...RESENT, 'unavailable']);
const ATTEMPTS = 3;

const keys = new Map(); // JSON of [type, body] -> the client key of that action

/** Send a creating request under the client key of its action; resolve with the reply body. */
export async function createOnce(type, body) {
  const action = JSON.stringify([type, body]);
  if (!keys.has(action)) keys.set(action, newKey());
  const request = { ...body, client_key: keys.get(action) };
  for (let attempt = 1; ; attempt += 1) {
    try {
      const reply = await client.request(type, request);
      keys.delete(action);
      return reply;
    } catch (error) {
      const code = error instanceof ProtocolError ? error.code : null;
      if (!MAYBE_DONE.has(code)) keys.delete(action);
      if (!RESENT.has(code) || attempt === ATTEMPTS) throw error;
    }
  }
}

/** 32 hex digits. Not crypto.randomUUID(): that needs a secure context, and the app may be served
 *  over plain http on a LAN address; getRandomValues works everywhere. */
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
