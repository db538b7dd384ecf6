// The frame around every signed-in page: navigation (a sidebar on wide screens, a tab bar on
// phones), the connection indicator, and the side column on desktops.
import { useEffect } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { startHome } from '../state/home.js';
import { startMessages, unread as unreadConversations } from '../state/messages.js';
import { startNotifications, unreadCount } from '../state/notifications.js';
import { profileSignal } from '../state/profiles.js';
import { connection, me, signOut } from '../state/session.js';
import { Avatar } from './Avatar.jsx';
import { Icon } from './Icon.jsx';
import { NotificationList } from './Notifications.jsx';

function NavLink({ href, icon, label, badge = 0, current }) {
  const active = href === '/' ? current === '/' : current === href || current.startsWith(`${href}/`);
  return (
    <a href={href} class={`nav-link${active ? ' is-active' : ''}`} aria-current={active ? 'page' : undefined}>
      <span class="nav-icon">
        <Icon name={icon} />
        {badge > 0 && (
          <span class="badge" aria-hidden="true">
            {badge > 99 ? '99+' : badge}
          </span>
        )}
      </span>
      <span class="nav-label">
        {label}
        {badge > 0 && <span class="sr-only"> ({badge} new)</span>}
      </span>
    </a>
  );
}

function ConnectionPill() {
  const status = connection.value;
  const offline = status === 'reconnecting' || status === 'connecting';
  return (
    <div class={`connection ${offline ? 'is-offline' : 'is-online'}`} role="status" aria-live="polite">
      {offline ? (
        <>
          <Icon name="wifiOff" size={16} /> <span>Reconnecting…</span>
        </>
      ) : (
        <>
          <span class="live-dot" aria-hidden="true" /> <span>Live</span>
        </>
      )}
    </div>
  );
}

export function Shell({ children }) {
  const { path } = useLocation();
  const user = me.value;
  const profile = profileSignal(user.user_id).value;

  useEffect(() => {
    startHome();
    startNotifications();
    startMessages();
  }, []);

  useEffect(() => {
    document.getElementById('main')?.focus({ preventScroll: true });
    window.scrollTo({ top: 0 });
  }, [path]);

  return (
    <div class={`app${path.startsWith('/messages') ? ' is-wide' : ''}`}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a href="/" class="brand" aria-label="Viora, home">
          <span class="brand-mark" aria-hidden="true" />
          <span class="brand-name">Viora</span>
        </a>
        <ConnectionPill />
        <button type="button" class="icon-button topbar-signout" onClick={signOut} aria-label="Sign out" title="Sign out">
          <Icon name="logout" size={20} />
        </button>
      </header>

      <nav class="nav glass" aria-label="Main">
        <NavLink href="/" icon="home" label="Home" current={path} />
        <NavLink href="/search" icon="search" label="Search" current={path} />
        <NavLink href="/notifications" icon="bell" label="Notifications" badge={unreadCount.value} current={path} />
        <NavLink href="/messages" icon="chat" label="Messages" badge={unreadConversations.value.size} current={path} />
        <NavLink href={`/u/${user.username}`} icon="user" label="Profile" current={path} />
        <div class="nav-me">
          <Avatar profile={profile} userId={user.user_id} size={36} />
          <div class="nav-me-text">
            <strong>{profile?.display_name || user.username}</strong>
            <span>@{user.username}</span>
          </div>
          <button type="button" class="icon-button" onClick={signOut} aria-label="Sign out" title="Sign out">
            <Icon name="logout" size={20} />
          </button>
        </div>
      </nav>

      <main id="main" class="content" tabIndex={-1}>
        {children}
      </main>

      <aside class="aside" aria-label="Latest activity">
        <section class="panel glass">
          <h2 class="panel-title">Latest activity</h2>
          <NotificationList limit={6} compact />
          <a class="panel-more" href="/notifications">
            All notifications
          </a>
        </section>
      </aside>
    </div>
  );
}
