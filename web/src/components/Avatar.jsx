// Initials on a gradient picked from the user id: every account looks the same everywhere.
import { nameOf } from '../state/profiles.js';

export function Avatar({ profile, userId, size = 44, online = false }) {
  const id = profile?.user_id ?? userId ?? 0;
  const hue = (id * 137) % 360;
  const initials = nameOf(profile)
    .split(/[\s_]+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0].toUpperCase())
    .join('');
  return (
    <span
      class="avatar"
      aria-hidden="true"
      style={{
        width: `${size}px`,
        height: `${size}px`,
        fontSize: `${Math.round(size * 0.38)}px`,
        background: `linear-gradient(135deg, hsl(${hue} 62% 42%), hsl(${(hue + 50) % 360} 68% 32%))`,
      }}
    >
      {initials || '·'}
      {online && <span class="presence-dot" />}
    </span>
  );
}
