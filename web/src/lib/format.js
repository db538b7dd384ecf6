// Small formatting helpers. Server times are Unix seconds (floats).

const UNITS = [
  ['y', 365 * 86400],
  ['w', 7 * 86400],
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
];

/** "now", "5m", "3h", "2d"… */
export function ago(unixSeconds, nowMs = Date.now()) {
  const seconds = Math.max(0, nowMs / 1000 - unixSeconds);
  if (seconds < 45) return 'now';
  for (const [unit, size] of UNITS) {
    if (seconds >= size) return `${Math.floor(seconds / size)}${unit}`;
  }
  return '1m';
}

/** A full date for tooltips and <time datetime>. */
export function isoTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString();
}

export function longTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleString();
}

export function count(n) {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

export function plural(n, one, many = `${one}s`) {
  return `${count(n)} ${n === 1 ? one : many}`;
}
