import { LocationProvider, Route, Router } from 'preact-iso';
import { booting, me } from '../state/session.js';
import { AuthScreen } from './Auth.jsx';
import { HomePage } from './Home.jsx';
import { MessagesPage } from './Messages.jsx';
import { NotificationsPage } from './Notifications.jsx';
import { PostPage } from './PostPage.jsx';
import { ProfilePage } from './Profile.jsx';
import { SearchPage } from './Search.jsx';
import { Shell } from './Shell.jsx';

function NotFound() {
  return (
    <section class="panel glass empty">
      <h1>Nothing here</h1>
      <p>
        This page does not exist. <a href="/">Back home</a>
      </p>
    </section>
  );
}

export function App() {
  if (booting.value) {
    return (
      <div class="splash" role="status" aria-live="polite">
        <span class="brand-mark" aria-hidden="true" />
        <span class="sr-only">Connecting to Viora…</span>
      </div>
    );
  }
  if (me.value === null) return <AuthScreen />;
  return (
    <LocationProvider>
      <Shell>
        <Router>
          <Route path="/" component={HomePage} />
          <Route path="/search" component={SearchPage} />
          <Route path="/notifications" component={NotificationsPage} />
          <Route path="/messages" component={MessagesPage} />
          <Route path="/messages/:id" component={MessagesPage} />
          <Route path="/u/:username" component={ProfilePage} />
          <Route path="/p/:id" component={PostPage} />
          <Route default component={NotFound} />
        </Router>
      </Shell>
    </LocationProvider>
  );
}
