// Direct messages: conversations, their messages, typing indicators and receipts.
//
// Messages and receipts come on the durable `dm` stream (resumed after reconnects); typing is
// ephemeral. This device acknowledges every message from others with `dm.delivered`, and the
// conversation on screen with `dm.read` while the page is visible.
import { signal } from '@preact/signals';
import { createOnce } from './creates.js';
import { client, me } from './session.js';

const TYPING_SHOWN_MS = 6000;
const TYPING_SEND_EVERY_MS = 3000;

export const conversations = signal([]); // most recently active first
export const conversationsState = signal('loading');
/** conversation id -> signal({state, messages (oldest first), before}) */
const threads = new Map();
/** conversation id -> {user id -> {delivered, read}} (highest message ids) */
export const receipts = signal({});
/** conversation id -> [user ids typing] */
export const typing = signal({});
/** conversation ids with messages not read yet */
export const unread = signal(new Set());
/** The conversation on screen (read receipts go for it). */
export const activeConversation = signal(null);

let started = false;
const typingTimers = new Map();
const lastTypingSent = new Map();
const lastReadSent = new Map();

export function threadSignal(conversationId) {
  let s = threads.get(conversationId);
  if (!s) {
    s = signal({ state: 'idle', messages: [], before: null });
    threads.set(conversationId, s);
  }
  return s;
}

function addMessages(conversationId, messages) {
  const thread = threadSignal(conversationId);
  const byId = new Map(thread.value.messages.map((m) => [m.id, m]));
  for (const m of messages) byId.set(m.id, m);
  thread.value = { ...thread.value, messages: [...byId.values()].sort((a, b) => a.id - b.id) };
}

function touchConversation(conversationId, lastMessage) {
  const list = conversations.value;
  const found = list.find((c) => c.id === conversationId);
  if (!found) {
    // A conversation someone else started: list it, then put this message on top of it.
    refreshConversations().then(() => {
      if (conversations.value.some((c) => c.id === conversationId)) touchConversation(conversationId, lastMessage);
    });
    return;
  }
  const updated = { ...found, last: lastMessage ?? found.last };
  conversations.value = [updated, ...list.filter((c) => c.id !== conversationId)];
}

function setUnread(conversationId, isUnread) {
  const next = new Set(unread.value);
  if (isUnread) next.add(conversationId);
  else next.delete(conversationId);
  unread.value = next;
}

function onScreen(conversationId) {
  return activeConversation.value === conversationId && document.visibilityState === 'visible';
}

function clearTyping(conversationId, userId) {
  const current = typing.value[conversationId] ?? [];
  if (!current.includes(userId)) return;
  typing.value = { ...typing.value, [conversationId]: current.filter((u) => u !== userId) };
}

client.on('dm.message', ({ body }) => {
  const message = body.message;
  const id = message.conversation_id;
  addMessages(id, [message]);
  touchConversation(id, message);
  clearTyping(id, message.sender_id);
  if (message.sender_id === me.value?.user_id) return;
  client.request('dm.delivered', { conversation_id: id, message_id: message.id }).catch(() => {});
  if (onScreen(id)) markRead(id);
  else setUnread(id, true);
});

client.on('dm.receipt', ({ body }) => {
  const { conversation_id: id, user_id: userId, kind, message_id: messageId } = body;
  const forConversation = { ...receipts.value[id] };
  const marks = { delivered: 0, read: 0, ...forConversation[userId] };
  marks[kind] = Math.max(marks[kind], messageId);
  if (kind === 'read') marks.delivered = Math.max(marks.delivered, messageId); // reading implies delivery
  forConversation[userId] = marks;
  receipts.value = { ...receipts.value, [id]: forConversation };
});

client.on('typing', ({ body }) => {
  const { conversation_id: id, user_id: userId } = body;
  const current = typing.value[id] ?? [];
  if (!current.includes(userId)) typing.value = { ...typing.value, [id]: [...current, userId] };
  const key = `${id}:${userId}`;
  clearTimeout(typingTimers.get(key));
  typingTimers.set(
    key,
    setTimeout(() => clearTyping(id, userId), TYPING_SHOWN_MS),
  );
});

document.addEventListener('visibilitychange', () => {
  const id = activeConversation.value;
  if (id !== null && onScreen(id)) markRead(id);
});

export async function refreshConversations() {
  try {
    // Each conversation comes with its last message, unread count and the others' receipt marks,
    // so previews, badges and "Seen" are right after a reload too.
    const { conversations: list } = await client.request('dm.list', { limit: 50 });
    const known = new Map(conversations.value.map((c) => [c.id, c]));
    conversations.value = list.map(({ last_message: lastMessage, unread: _unread, receipts: _receipts, ...c }) => {
      const before = known.get(c.id);
      const last = before?.last && (!lastMessage || before.last.id > lastMessage.id) ? before.last : lastMessage;
      return { ...before, ...c, last };
    });
    const nextReceipts = { ...receipts.value };
    for (const c of list) {
      const forConversation = { ...nextReceipts[c.id] };
      for (const { user_id: userId, delivered, read } of c.receipts) {
        const marks = { delivered: 0, read: 0, ...forConversation[userId] };
        forConversation[userId] = { delivered: Math.max(marks.delivered, delivered), read: Math.max(marks.read, read) };
      }
      nextReceipts[c.id] = forConversation;
      setUnread(c.id, c.unread > 0 && !onScreen(c.id));
    }
    receipts.value = nextReceipts;
    conversationsState.value = 'ready';
  } catch (error) {
    console.error(error);
    conversationsState.value = 'error';
  }
}

export function startMessages() {
  if (started) return;
  started = true;
  client.subscribe('dm', { onFresh: refreshConversations });
}

/** Load a conversation's latest messages (once), and older ones on demand. */
export async function loadThread(conversationId, { older = false } = {}) {
  const thread = threadSignal(conversationId);
  if (!older && thread.value.state !== 'idle') return;
  if (older && thread.value.before === null) return;
  thread.value = { ...thread.value, state: older ? thread.value.state : 'loading' };
  try {
    const page = await client.request('dm.history', {
      conversation_id: conversationId,
      before: older ? thread.value.before : undefined,
      limit: 50,
    });
    addMessages(conversationId, page.messages);
    thread.value = { ...thread.value, state: 'ready', before: page.cursor };
    if (onScreen(conversationId)) markRead(conversationId);
  } catch (error) {
    thread.value = { ...thread.value, state: 'error' };
    throw error;
  }
}

export function markRead(conversationId) {
  setUnread(conversationId, false);
  const mine = me.value?.user_id;
  const fromOthers = threadSignal(conversationId).value.messages.filter((m) => m.sender_id !== mine);
  const last = fromOthers[fromOthers.length - 1];
  if (!last || (lastReadSent.get(conversationId) ?? 0) >= last.id) return;
  lastReadSent.set(conversationId, last.id);
  client.request('dm.read', { conversation_id: conversationId, message_id: last.id }).catch(() => {});
}

export async function sendMessage(conversationId, text) {
  const { message } = await createOnce('dm.send', { conversation_id: conversationId, text });
  addMessages(conversationId, [message]);
  touchConversation(conversationId, message);
  lastTypingSent.delete(conversationId);
  return message;
}

/** Tell the others we are typing, at most every few seconds. */
export function sendTyping(conversationId) {
  const now = Date.now();
  if (now - (lastTypingSent.get(conversationId) ?? 0) < TYPING_SEND_EVERY_MS) return;
  lastTypingSent.set(conversationId, now);
  client.notify('typing', { conversation_id: conversationId });
}

/** The one-to-one conversation with someone (created on first use). */
export async function openDirect(userId) {
  const { conversation } = await client.request('dm.open', { user_id: userId });
  if (!conversations.value.some((c) => c.id === conversation.id)) {
    conversations.value = [conversation, ...conversations.value];
  }
  return conversation;
}

export function conversationById(id) {
  return conversations.value.find((c) => c.id === id) ?? null;
}
