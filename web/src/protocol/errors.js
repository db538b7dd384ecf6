// Errors as the protocol names them (protocol/PROTOCOL.md, "Errors"), plus two of the client's own:
// `disconnected` (the socket dropped before the reply came) and `timeout` (no reply in time).

export class ProtocolError extends Error {
  constructor(code, message, extra = {}) {
    super(message || code);
    this.name = 'ProtocolError';
    this.code = code;
    this.retryAfter = extra.retry_after ?? null;
  }
}

/** The codes after which a stored session token is worthless: sign in again. */
export const TOKEN_ERRORS = new Set(['token_invalid', 'token_expired', 'token_revoked']);

const FRIENDLY = {
  auth_failed: 'Wrong username or password.',
  username_taken: 'That username is taken — try another.',
  rate_limited: 'Slow down a little and try again.',
  busy: 'The server is busy right now; try again in a moment.',
  timeout: 'That took too long. Please try again.',
  disconnected: 'Connection lost — it will be retried when you are back online.',
  unavailable: 'A service is down right now; try again later.',
  not_found: 'That is not there (any more).',
  forbidden: 'You are not allowed to do that.',
  bad_request: 'That was not accepted.',
};

/** A sentence for people, from any error the app may meet. */
export function describeError(error) {
  if (error instanceof ProtocolError) {
    if (error.code === 'bad_request' && error.message) return `Not accepted: ${error.message}`;
    return FRIENDLY[error.code] || error.message || error.code;
  }
  return error?.message || String(error);
}
