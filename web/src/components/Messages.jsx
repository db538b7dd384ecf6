// Direct messages: the conversation list and one conversation, side by side on wide screens and
// one at a time on phones. Typing indicators and receipts (delivered / seen) update live.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ago, isoTime, longTime } from '../lib/format.js';
import { describeError } from '../protocol/errors.js';
import {
  activeConversation,
  conversationById,
  conversations,
  conversationsState,
  loadThread,
  markRead,
  receipts,
  sendMessage,
  sendTyping,
  threadSignal,
  typing,
  unread,
} from '../state/messages.js';
import { presence, watchPresence } from '../state/presence.js';
import { nameOf, profileSignal } from '../state/profiles.js';
import { me } from '../state/session.js';
import { Avatar } from './Avatar.jsx';
import { Icon } from './Icon.jsx';
import { FormError } from './FormError.jsx';

function others(conversation) {
  return conversation.member_ids.filter((id) => id !== me.value.user_id);
}

function titleOf(conversation) {
  const people = others(conversation).map((id) => profileSignal(id).value);
  if (conversation.kind === 'group' && conversation.title) return conversation.title;
  return people.map(nameOf).join(', ') || 'Just you';
}

function ConversationItem({ conversation, active }) {
  const title = titleOf(conversation);
  const firstOther = others(conversation)[0];
  const isUnread = unread.value.has(conversation.id);
  const last = conversation.last;
  useEffect(() => watchPresence(others(conversation)), [conversation.id]);
  return (
    <li>
      <a
        href={`/messages/${conversation.id}`}
        class={`conversation${active ? ' is-active' : ''}${isUnread ? ' is-unread' : ''}`}
        aria-current={active ? 'page' : undefined}
      >
        <Avatar profile={profileSignal(firstOther).value} userId={firstOther} size={42} online={presence.value[firstOther]?.online} />
        <span class="conversation-text">
          <strong>{title}</strong>
          <span class="muted small">{last ? `${last.sender_id === me.value.user_id ? 'You: ' : ''}${last.text}` : 'No messages yet'}</span>
        </span>
        {isUnread && <span class="unread-dot" aria-label="unread" />}
      </a>
    </li>
  );
}

function Receipt({ conversation, message }) {
  const marks = receipts.value[conversation.id] ?? {};
  const members = others(conversation);
  const readBy = members.filter((id) => (marks[id]?.read ?? 0) >= message.id);
  const deliveredTo = members.filter((id) => (marks[id]?.delivered ?? 0) >= message.id);
  let text = 'Sent';
  let icon = 'check';
  if (readBy.length === members.length && members.length > 0) {
    text = 'Seen';
    icon = 'checks';
  } else if (deliveredTo.length === members.length && members.length > 0) {
    text = 'Delivered';
    icon = 'checks';
  }
  return (
    <p class={`receipt receipt-${text.toLowerCase()}`} data-receipt={text.toLowerCase()} aria-live="polite">
      <Icon name={icon} size={14} /> {text}
    </p>
  );
}

function TypingIndicator({ conversation }) {
  const ids = (typing.value[conversation.id] ?? []).filter((id) => id !== me.value.user_id);
  const names = ids.map((id) => nameOf(profileSignal(id).value));
  return (
    <div class="typing" role="status" aria-live="polite">
      {names.length > 0 && (
        <>
          <span class="typing-dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          {names.join(', ')} {names.length === 1 ? 'is' : 'are'} typing…
        </>
      )}
    </div>
  );
}

function Thread({ conversation }) {
  const id = conversation.id;
  const thread = threadSignal(id).value;
  const title = titleOf(conversation);
  const [text, setText] = useState('');
  const [error, setError] = useState(null);
  const scroller = useRef(null);
  const input = useRef(null);
  const mine = me.value.user_id;
  const messages = thread.messages;
  const lastMine = [...messages].reverse().find((m) => m.sender_id === mine);

  useEffect(() => {
    activeConversation.value = id;
    loadThread(id).catch((e) => setError(describeError(e)));
    markRead(id);
    return () => {
      if (activeConversation.value === id) activeConversation.value = null;
    };
  }, [id]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length, id]);

  async function submit(event) {
    event.preventDefault();
    const body = text.trim();
    if (!body) return;
    setError(null);
    setText('');
    try {
      await sendMessage(id, body);
    } catch (e) {
      setText(body);
      setError(describeError(e));
    }
    input.current?.focus();
  }

  return (
    <section class="thread glass" aria-labelledby="thread-title">
      <header class="thread-head">
        <a href="/messages" class="icon-button thread-back" aria-label="All conversations">
          <Icon name="back" />
        </a>
        <h2 id="thread-title">{title}</h2>
      </header>
      <div class="thread-scroll" ref={scroller}>
        {thread.before !== null && (
          <button type="button" class="btn btn-ghost btn-small" onClick={() => loadThread(id, { older: true })}>
            Earlier messages
          </button>
        )}
        {thread.state === 'ready' && messages.length === 0 && (
          <p class="muted small center">No messages yet. Say hello!</p>
        )}
        <ol class="messages" aria-label={`Messages with ${title}`}>
          {messages.map((m) => (
            <li key={m.id} class={`message ${m.sender_id === mine ? 'is-mine' : 'is-theirs'}`} data-message-id={m.id}>
              <p class="bubble">{m.flagged && m.sender_id !== mine ? <HiddenText text={m.text} /> : m.text}</p>
              <time class="muted small" datetime={isoTime(m.created_at)} title={longTime(m.created_at)}>
                {ago(m.created_at)}
              </time>
              {m === lastMine && <Receipt conversation={conversation} message={m} />}
            </li>
          ))}
        </ol>
      </div>
      <TypingIndicator conversation={conversation} />
      <form class="thread-form" onSubmit={submit}>
        <label for="message-input" class="sr-only">
          Message
        </label>
        <input
          id="message-input"
          ref={input}
          class="input"
          placeholder="Write a message…"
          autoComplete="off"
          maxLength={5000}
          value={text}
          onInput={(e) => {
            setText(e.currentTarget.value);
            if (e.currentTarget.value) sendTyping(id);
          }}
        />
        <button type="submit" class="btn btn-primary btn-round" aria-label="Send" disabled={!text.trim()}>
          <Icon name="send" size={18} />
        </button>
      </form>
      <FormError error={error} />
    </section>
  );
}

function HiddenText({ text }) {
  const [shown, setShown] = useState(false);
  if (shown) return text;
  return (
    <button type="button" class="link-button" onClick={() => setShown(true)}>
      This message may be offensive — show it
    </button>
  );
}

export function MessagesPage({ id }) {
  const { route } = useLocation();
  const conversationId = id ? Number(id) : null;
  const conversation = conversationId !== null ? conversationById(conversationId) : null;
  const list = conversations.value;

  useEffect(() => {
    // A link to a conversation we do not know (yet): it may still be loading; if not, go back.
    if (conversationId !== null && !conversation && conversationsState.value === 'ready') {
      const timer = setTimeout(() => conversationById(conversationId) || route('/messages'), 3000);
      return () => clearTimeout(timer);
    }
    return undefined;
  }, [conversationId, conversation, conversationsState.value]);

  return (
    <>
      <h1 class="page-title sr-only-on-phone">Messages</h1>
      <div class={`messenger${conversation ? ' has-thread' : ''}`}>
        <section class="conversations glass" aria-label="Conversations">
          {conversationsState.value === 'loading' && <p class="muted small pad">Loading…</p>}
          {conversationsState.value === 'ready' && list.length === 0 && (
            <p class="muted small pad">
              No conversations yet. Open someone’s profile and choose <strong>Message</strong>.
            </p>
          )}
          <ul class="conversation-list">
            {list.map((c) => (
              <ConversationItem key={c.id} conversation={c} active={c.id === conversationId} />
            ))}
          </ul>
        </section>
        {conversation ? (
          <Thread key={conversation.id} conversation={conversation} />
        ) : (
          <section class="thread thread-empty glass" aria-label="No conversation open">
            <Icon name="chat" size={40} />
            <p class="muted">Pick a conversation.</p>
          </section>
        )}
      </div>
    </>
  );
}

