import { useEffect } from 'preact/hooks';
import { ago, isoTime } from '../lib/format.js';
import {
  markNotificationsSeen,
  notifications,
  notificationsState,
  unreadCount,
} from '../state/notifications.js';
import { nameOf, profileSignal } from '../state/profiles.js';
import { Avatar } from './Avatar.jsx';
import { Icon } from './Icon.jsx';

const WHAT = {
  follow: ['userPlus', 'followed you'],
  like: ['heart', 'liked your post'],
  comment: ['comment', 'commented on your post'],
  mention: ['sparkle', 'mentioned you'],
};

function NotificationItem({ n, compact }) {
  const actor = profileSignal(n.actor_id).value;
  const [icon, text] = WHAT[n.kind] ?? ['bell', n.kind];
  const href = n.post_id ? `/p/${n.post_id}` : actor ? `/u/${actor.username}` : undefined;
  return (
    <li class={`notification kind-${n.kind}${n.live ? ' is-new' : ''}`} data-kind={n.kind}>
      <a href={href} class="notification-link">
        <span class="notification-avatar">
          <Avatar profile={actor} userId={n.actor_id} size={compact ? 34 : 42} />
          <span class={`notification-icon kind-${n.kind}`}>
            <Icon name={icon} size={12} />
          </span>
        </span>
        <span class="notification-text">
          <strong>{nameOf(actor)}</strong> {text}
        </span>
        <time class="muted small" datetime={isoTime(n.created_at)}>
          {ago(n.created_at)}
        </time>
      </a>
    </li>
  );
}

export function NotificationList({ limit, compact = false }) {
  const items = limit ? notifications.value.slice(0, limit) : notifications.value;
  if (notificationsState.value === 'loading' && items.length === 0) {
    return <p class="muted small">Loading…</p>;
  }
  if (items.length === 0) return <p class="muted small">Nothing yet. Likes, comments and new followers show up here.</p>;
  return (
    <ul class={`notification-list${compact ? ' is-compact' : ''}`}>
      {items.map((n) => (
        <NotificationItem key={n.seq} n={n} compact={compact} />
      ))}
    </ul>
  );
}

export function NotificationsPage() {
  const unread = unreadCount.value;
  useEffect(() => {
    markNotificationsSeen();
  }, [unread]);
  return (
    <>
      <h1 class="page-title">Notifications</h1>
      <section class="panel glass" aria-label="Notifications">
        <NotificationList />
      </section>
    </>
  );
}
