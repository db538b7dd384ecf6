// The Viora protocol client: one websocket that stays up, request/reply by id, pushes, heartbeats,
// and reconnect-and-resume.
//
// * Requests carry an id; replies and errors are matched by it. A request made while the socket is
//   down waits for it to come back (up to its timeout); one in flight when it drops fails with
//   `disconnected` (it may or may not have happened: the caller decides whether to retry).
// * The server's heartbeat `ping` is answered with `pong`. A socket silent for longer than
//   `silenceMs` (the server pings every 20 s) is taken for dead and replaced.
// * Reconnects back off exponentially with jitter, and start at once when the browser comes online.
// * Durable streams (home, notifications, dm) are subscribed with `stream.resume`. The client
//   remembers the last sequence number it saw per stream; after a reconnect it resumes each
//   stream from there, so the server replays exactly what was missed. Pushes at or below the
//   cursor are dropped, so nothing is shown twice.
import { decodeFrame, encodeFrame } from './codec.js';
import { ProtocolError, TOKEN_ERRORS } from './errors.js';

export const DURABLE_STREAMS = new Set(['home', 'notifications', 'dm']);

const DEFAULTS = {
  requestTimeoutMs: 15000,
  backoffInitialMs: 400,
  backoffMaxMs: 10000,
  silenceMs: 50000,
};

export class VioraClient {
  /**
   * @param {object} options
   * @param {string} options.url websocket URL (ws://host/ws)
   * @param {string|null} [options.token] a session token from an earlier sign-in
   * @param {(token: string|null) => void} [options.onToken] called when the token changes (persist it)
   */
  constructor({ url, token = null, onToken = () => {}, ...options }) {
    this.url = url;
    this.token = token;
    this.user = null; // {user_id, username} once signed in
    this.status = 'idle'; // idle | connecting | online | reconnecting | stopped
    this.options = { ...DEFAULTS, ...options };
    this._onToken = onToken;
    this._ws = null;
    this._open = false; // the socket is open: anonymous requests may go
    this._authed = false; // the socket is signed in: every request may go
    this._everOnline = false;
    this._running = false;
    this._nextId = 1;
    this._pending = new Map(); // id -> {resolve, reject, timer}
    this._waiting = []; // requests waiting for the socket: {auth, go, fail}
    this._streams = new Map(); // durable stream -> {cursor, onFresh}
    this._listeners = new Map(); // event name -> Set(fn)
    this._attempt = 0;
    this._retryTimer = null;
    this._watchdog = null;
    this._lastFrameAt = 0;
    this._onOnline = () => this._reconnectNow();
    this._onOffline = () => this._ws && this._drop(this._ws, 'offline');
  }

  // ------------------------------------------------------------------ lifecycle

  /** Connect, and keep connected until stop(). */
  start() {
    if (this._running) return;
    this._running = true;
    globalThis.addEventListener?.('online', this._onOnline);
    globalThis.addEventListener?.('offline', this._onOffline);
    this._setStatus('connecting');
    this._connect();
  }

  stop() {
    this._running = false;
    globalThis.removeEventListener?.('online', this._onOnline);
    globalThis.removeEventListener?.('offline', this._onOffline);
    clearTimeout(this._retryTimer);
    if (this._ws) this._drop(this._ws, 'stopped');
    this._setStatus('stopped');
  }

  get signedIn() {
    return this.token !== null;
  }

  // ------------------------------------------------------------------ events

  /**
   * Listen to a push type (`post.created`, `notification`, `dm.message`, `dm.receipt`, `typing`,
   * `media.progress`, `presence`…) or a lifecycle event: `status` (the new status), `signedin`
   * (the user), `signedout` (the reason), `ready` ({reconnected}). Returns the unsubscribe function.
   */
  on(name, fn) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(fn);
    return () => this._listeners.get(name)?.delete(fn);
  }

  _emit(name, payload) {
    for (const fn of this._listeners.get(name) ?? []) {
      try {
        fn(payload);
      } catch (error) {
        console.error(`viora: a ${name} listener failed`, error);
      }
    }
  }

  /**
   * Subscribe to a durable stream. `onFresh` runs after the first subscription of this page
   * (there was no cursor to resume from, so whoever displays the stream loads its current state);
   * after reconnects the server replays what was missed instead.
   */
  subscribe(stream, { onFresh = () => {} } = {}) {
    if (!DURABLE_STREAMS.has(stream)) throw new Error(`${stream} is not a durable stream`);
    if (this._streams.has(stream)) return;
    this._streams.set(stream, { cursor: null, onFresh });
    if (this._authed) this._resume(stream);
  }

  /** The last sequence number seen on a durable stream (null before the first subscription). */
  cursor(stream) {
    return this._streams.get(stream)?.cursor ?? null;
  }

  // ------------------------------------------------------------------ requests

  /** Send a request and resolve with the reply body; reject with a ProtocolError. */
  async request(type, body = {}, { timeoutMs = this.options.requestTimeoutMs, auth = true } = {}) {
    const deadline = Date.now() + timeoutMs;
    await this._whenReady(auth, timeoutMs);
    return this._send(type, body, Math.max(1, deadline - Date.now()));
  }

  /** Send a message that gets no reply (`typing`). Dropped while the socket is down: it is ephemeral. */
  notify(type, body = {}) {
    if (this._authed) this._ws.send(encodeFrame(type, body));
  }

  async register({ username, password, display_name }) {
    const reply = await this.request('auth.register', { username, password, display_name }, { auth: false });
    this._signedIn(reply);
    return this.user;
  }

  async login({ username, password }) {
    this._signedIn(await this.request('auth.login', { username, password }, { auth: false }));
    return this.user;
  }

  async logout() {
    try {
      await this.request('auth.logout', {}, { timeoutMs: 5000 });
    } finally {
      this._signedOut('logout');
    }
  }

  // ------------------------------------------------------------------ internals: the socket

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this._emit('status', status);
  }

  _connect() {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      console.error('viora: cannot open the websocket', error);
      this._scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this._ws = ws;
    ws.onopen = () => this._onOpen(ws);
    ws.onmessage = (event) => this._onFrame(ws, event.data);
    ws.onclose = (event) => this._onClosed(ws, event);
    ws.onerror = () => {}; // a close event follows
  }

  async _onOpen(ws) {
    this._open = true;
    this._lastFrameAt = Date.now();
    clearInterval(this._watchdog);
    this._watchdog = setInterval(() => {
      if (Date.now() - this._lastFrameAt > this.options.silenceMs) this._drop(ws, 'silent');
    }, Math.min(5000, this.options.silenceMs / 2));
    if (this.token !== null) {
      try {
        const me = await this._send('auth.resume', { token: this.token }, this.options.requestTimeoutMs);
        this.user = { user_id: me.user_id, username: me.username };
        this._authed = true;
      } catch (error) {
        if (ws !== this._ws) return;
        if (error instanceof ProtocolError && TOKEN_ERRORS.has(error.code)) {
          this._signedOut(error.code);
        } else {
          this._drop(ws, 'auth.resume failed');
          return;
        }
      }
    }
    if (ws !== this._ws) return;
    const reconnected = this._everOnline;
    this._everOnline = true;
    this._attempt = 0;
    this._setStatus('online');
    this._flushWaiting();
    if (this._authed) {
      this._emit('signedin', this.user);
      for (const stream of this._streams.keys()) this._resume(stream);
    }
    this._emit('ready', { reconnected });
  }

  _onFrame(ws, data) {
    if (ws !== this._ws) return;
    this._lastFrameAt = Date.now();
    let frame;
    try {
      frame = decodeFrame(data);
    } catch (error) {
      console.warn('viora: unreadable frame', error);
      return;
    }
    const pending = frame.id !== null ? this._pending.get(frame.id) : undefined;
    if (pending) {
      this._pending.delete(frame.id);
      clearTimeout(pending.timer);
      if (frame.type === 'error') pending.reject(new ProtocolError(frame.body.code, frame.body.message, frame.body));
      else pending.resolve(frame.body);
      return;
    }
    if (frame.type === 'ping' && frame.id === null) {
      ws.send(encodeFrame('pong'));
      return;
    }
    if (frame.type === 'error') {
      console.warn('viora: server error', frame.body);
      return;
    }
    if (frame.stream !== null) this._onPush(frame);
  }

  _onPush(frame) {
    const durable = this._streams.get(frame.stream);
    if (durable && DURABLE_STREAMS.has(frame.stream)) {
      if (durable.cursor !== null && frame.seq <= durable.cursor) return; // already seen: no repeats
      durable.cursor = frame.seq;
    }
    this._emit(frame.type, frame);
  }

  /** Close a socket we no longer trust and go through the same path as a closed one. */
  _drop(ws, why) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(1000, why);
    } catch {
      // closing a socket that never opened may throw; it is gone either way
    }
    this._onClosed(ws);
  }

  _onClosed(ws, event) {
    if (ws !== this._ws) return;
    this._ws = null;
    this._open = false;
    this._authed = false;
    clearInterval(this._watchdog);
    for (const [id, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.reject(new ProtocolError('disconnected', 'the connection dropped before the reply came'));
      this._pending.delete(id);
    }
    if (event?.code === 4001) this._signedOut('signed out elsewhere');
    if (!this._running) return;
    this._setStatus('reconnecting');
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (!this._running || this._retryTimer !== null) return;
    const { backoffInitialMs, backoffMaxMs } = this.options;
    const ceiling = Math.min(backoffMaxMs, backoffInitialMs * 2 ** this._attempt);
    this._attempt += 1;
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2; // jitter: herds of clients spread out
    this._retryTimer = setTimeout(() => this._connect(), delay);
  }

  _reconnectNow() {
    if (!this._running || this._ws !== null) return;
    this._attempt = 0;
    this._connect();
  }

  // ------------------------------------------------------------------ internals: requests

  _ready(auth) {
    return auth ? this._authed : this._open;
  }

  _whenReady(auth, timeoutMs) {
    if (this._ready(auth)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const entry = { auth, go: resolve, fail: reject };
      entry.timer = setTimeout(() => {
        this._waiting = this._waiting.filter((e) => e !== entry);
        reject(new ProtocolError(auth && this.token === null ? 'unauthenticated' : 'timeout', 'not connected'));
      }, timeoutMs);
      this._waiting.push(entry);
    });
  }

  _flushWaiting() {
    const still = [];
    for (const entry of this._waiting) {
      if (this._ready(entry.auth)) {
        clearTimeout(entry.timer);
        entry.go();
      } else {
        still.push(entry);
      }
    }
    this._waiting = still;
  }

  _send(type, body, timeoutMs) {
    const ws = this._ws;
    if (!ws || !this._open) {
      return Promise.reject(new ProtocolError('disconnected', 'not connected'));
    }
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new ProtocolError('timeout', `no reply to ${type}`));
      }, timeoutMs);
      this._pending.set(id, { resolve, reject, timer });
      ws.send(encodeFrame(type, body, id));
    });
  }

  async _resume(stream) {
    const state = this._streams.get(stream);
    const fresh = state.cursor === null;
    try {
      let more = true;
      while (more) {
        const body = { stream };
        if (state.cursor !== null) body.after = state.cursor;
        const asked = state.cursor ?? 0;
        const reply = await this._send('stream.resume', body, this.options.requestTimeoutMs);
        // The server's `last` is the truth: a cursor beyond the stream's head (a server whose data
        // was reset) is clamped to it. Live pushes that overtook the reply keep their higher mark.
        state.cursor = (state.cursor ?? 0) > asked ? Math.max(state.cursor, reply.last) : reply.last;
        more = reply.more;
      }
    } catch (error) {
      console.warn(`viora: resuming ${stream} failed (retried on the next connection)`, error);
      return;
    }
    if (fresh) state.onFresh();
  }

  // ------------------------------------------------------------------ internals: auth

  _signedIn(reply) {
    this.token = reply.token;
    this.user = { user_id: reply.user_id, username: reply.username };
    this._authed = true;
    this._onToken(this.token);
    this._flushWaiting();
    this._emit('signedin', this.user);
    for (const stream of this._streams.keys()) this._resume(stream);
  }

  _signedOut(reason) {
    const was = this.token !== null;
    this.token = null;
    this.user = null;
    this._authed = false;
    for (const state of this._streams.values()) state.cursor = null;
    this._onToken(null);
    if (was) this._emit('signedout', reason);
  }
}
