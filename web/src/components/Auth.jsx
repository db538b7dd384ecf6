// Sign in / sign up: one card, two modes.
import { useState } from 'preact/hooks';
import { describeError } from '../protocol/errors.js';
import { client, connection } from '../state/session.js';
import { FormError } from './FormError.jsx';

export function AuthScreen() {
  const [mode, setMode] = useState('signup');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const signingUp = mode === 'signup';

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (signingUp) {
        await client.register({
          username: username.trim().toLowerCase(),
          password,
          display_name: displayName.trim() || undefined,
        });
      } else {
        await client.login({ username: username.trim().toLowerCase(), password });
      }
    } catch (e) {
      setError(describeError(e));
      setBusy(false);
    }
  }

  return (
    <div class="auth">
      <div class="auth-hero">
        <span class="brand-mark brand-mark-large" aria-hidden="true" />
        <h1>Viora</h1>
        <p>Share photos and videos with the people you follow — and find any moment by describing it.</p>
      </div>
      <form class="auth-card glass" onSubmit={submit} aria-labelledby="auth-title">
        <div class="segmented" role="group" aria-label="Account">
          <button
            type="button"
            aria-pressed={signingUp}
            class={signingUp ? 'is-active' : ''}
            onClick={() => setMode('signup')}
          >
            Sign up
          </button>
          <button
            type="button"
            aria-pressed={!signingUp}
            class={!signingUp ? 'is-active' : ''}
            onClick={() => setMode('signin')}
          >
            Sign in
          </button>
        </div>
        <h2 id="auth-title" class="auth-title">
          {signingUp ? 'Create your account' : 'Welcome back'}
        </h2>
        <label class="field">
          <span>Username</span>
          <input
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellcheck={false}
            required
            minLength={3}
            maxLength={32}
            pattern="[A-Za-z0-9_]+"
            title="Letters, digits and _"
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        {signingUp && (
          <label class="field">
            <span>
              Display name <em>(optional)</em>
            </span>
            <input
              name="display_name"
              autoComplete="name"
              maxLength={64}
              value={displayName}
              onInput={(e) => setDisplayName(e.currentTarget.value)}
            />
          </label>
        )}
        <label class="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            autoComplete={signingUp ? 'new-password' : 'current-password'}
            required
            minLength={signingUp ? 8 : 1}
            maxLength={1024}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
          {signingUp && <small>At least 8 characters.</small>}
        </label>
        <FormError error={error} />
        <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'One moment…' : signingUp ? 'Create account' : 'Sign in'}
        </button>
        {connection.value !== 'online' && (
          <p class="muted small" role="status">
            Connecting to the server…
          </p>
        )}
      </form>
    </div>
  );
}
