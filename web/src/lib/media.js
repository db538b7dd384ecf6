// Choosing among a processed item's variants (see `media` in post views, and `media.progress`).

/** The thumbnails as an <img srcset>, smallest first. */
export function srcSet(variants) {
  return (variants?.thumbnails ?? []).map((t) => `${t.url} ${t.width}w`).join(', ');
}

/** The smallest thumbnail at least `width` pixels wide (or the largest there is). */
export function thumbnail(variants, width = 480) {
  const thumbs = variants?.thumbnails ?? [];
  return thumbs.find((t) => t.width >= width) ?? thumbs[thumbs.length - 1] ?? null;
}

/** Width / height of an item, for reserving its box before it loads. */
export function aspectRatio(variants) {
  const box = variants?.video ?? variants?.poster ?? thumbnail(variants);
  if (!box?.width || !box?.height) return null;
  return Math.min(2.2, Math.max(0.5, box.width / box.height));
}
