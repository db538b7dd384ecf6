import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { ago, count, longTime } from '../lib/format.js';
import { describeError } from '../protocol/errors.js';
import { openDirect } from '../state/messages.js';
import { putPost } from '../state/posts.js';
import { presence, watchPresence } from '../state/presence.js';
import { loadProfile, nameOf, profileSignal, setFollowing, updateMyProfile, userPosts } from '../state/profiles.js';
import { me } from '../state/session.js';
import { Avatar } from './Avatar.jsx';
import { PostList, SkeletonPosts } from './Home.jsx';
import { Icon } from './Icon.jsx';
import { FormError } from './FormError.jsx';

function EditProfile({ profile, onDone }) {
  const [displayName, setDisplayName] = useState(profile.display_name);
  const [bio, setBio] = useState(profile.bio);
  const [error, setError] = useState(null);
  async function save(event) {
    event.preventDefault();
    try {
      await updateMyProfile({ display_name: displayName.trim() || profile.username, bio });
      onDone();
    } catch (e) {
      setError(describeError(e));
    }
  }
  return (
    <form class="edit-profile" onSubmit={save}>
      <label class="field">
        <span>Display name</span>
        <input maxLength={64} value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Bio</span>
        <textarea rows={3} maxLength={500} value={bio} onInput={(e) => setBio(e.currentTarget.value)} />
      </label>
      <FormError error={error} />
      <div class="button-row">
        <button type="button" class="btn btn-ghost" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" class="btn btn-primary">
          Save
        </button>
      </div>
    </form>
  );
}

export function ProfilePage({ username }) {
  const { route } = useLocation();
  const [userId, setUserId] = useState(null);
  const [missing, setMissing] = useState(false);
  const [posts, setPosts] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const profile = userId !== null ? profileSignal(userId).value : null;
  const seen = userId !== null ? presence.value[userId] : undefined;

  useEffect(() => {
    let live = true;
    setUserId(null);
    setPosts(null);
    setMissing(false);
    setEditing(false);
    loadProfile({ username: username.toLowerCase() })
      .then(async (p) => {
        if (!live) return;
        setUserId(p.user_id);
        watchPresence([p.user_id]);
        const page = await userPosts(p.user_id);
        if (!live) return;
        setPosts(page.posts.map(putPost));
        setCursor(page.cursor);
      })
      .catch(() => live && setMissing(true));
    return () => {
      live = false;
    };
  }, [username]);

  if (missing) {
    return (
      <section class="panel glass empty">
        <h1>@{username}</h1>
        <p>No such account (or it is hidden from you).</p>
      </section>
    );
  }
  if (!profile) return <SkeletonPosts n={1} />;

  const mine = profile.user_id === me.value.user_id;

  async function toggleFollow() {
    setBusy(true);
    setError(null);
    try {
      await setFollowing(profile.user_id, !profile.you_follow);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  async function message() {
    setError(null);
    try {
      const conversation = await openDirect(profile.user_id);
      route(`/messages/${conversation.id}`);
    } catch (e) {
      setError(describeError(e));
    }
  }

  async function older() {
    const page = await userPosts(profile.user_id, cursor);
    setPosts([...posts, ...page.posts.map(putPost)]);
    setCursor(page.cursor);
  }

  return (
    <>
      <section class="profile glass" aria-labelledby="profile-name">
        <div class="profile-banner" aria-hidden="true" />
        <div class="profile-main">
          <Avatar profile={profile} size={88} online={seen?.online} />
          <div class="profile-actions">
            {mine ? (
              <button type="button" class="btn btn-ghost" onClick={() => setEditing(!editing)} aria-expanded={editing}>
                Edit profile
              </button>
            ) : (
              <>
                <button type="button" class="btn btn-ghost" onClick={message} aria-label="Message" title="Send a message">
                  <Icon name="chat" size={18} /> <span class="btn-label">Message</span>
                </button>
                <button
                  type="button"
                  class={`btn ${profile.you_follow ? 'btn-ghost' : 'btn-primary'} follow-button`}
                  aria-pressed={profile.you_follow}
                  onClick={toggleFollow}
                  disabled={busy}
                >
                  <Icon name={profile.you_follow ? 'userCheck' : 'userPlus'} size={18} />
                  {profile.you_follow ? 'Following' : 'Follow'}
                </button>
              </>
            )}
          </div>
        </div>
        <h1 id="profile-name" class="profile-name">
          {nameOf(profile)}
        </h1>
        <p class="muted">
          @{profile.username}
          {!mine && seen && (
            <span class="presence-text" data-online={seen.online}>
              {seen.online ? ' · Online' : seen.lastSeen ? ` · ${lastSeenText(seen.lastSeen)}` : ''}
            </span>
          )}
        </p>
        {profile.bio && <p class="profile-bio">{profile.bio}</p>}
        <p class="muted small">Joined {longTime(profile.created_at).split(',')[0]}</p>
        <dl class="stats">
          <div>
            <dt>Posts</dt>
            <dd>{count(profile.posts)}</dd>
          </div>
          <div>
            <dt>Followers</dt>
            <dd data-testid="followers">{count(profile.followers)}</dd>
          </div>
          <div>
            <dt>Following</dt>
            <dd>{count(profile.following)}</dd>
          </div>
        </dl>
        <FormError error={error} />
        {editing && <EditProfile profile={profile} onDone={() => setEditing(false)} />}
      </section>
      <h2 class="section-title">Posts</h2>
      {posts === null && <SkeletonPosts n={1} />}
      {posts?.length === 0 && <p class="panel glass muted">No posts yet.</p>}
      {posts && <PostList ids={posts} label={`Posts by ${nameOf(profile)}`} />}
      {cursor !== null && posts && (
        <button type="button" class="btn btn-ghost btn-block" onClick={older}>
          Show older posts
        </button>
      )}
    </>
  );
}

function lastSeenText(unixSeconds) {
  const when = ago(unixSeconds);
  return when === 'now' ? 'Seen just now' : `Seen ${when} ago`;
}
