// An error under a form or an action, announced to screen readers; nothing when there is none.
export function FormError({ error }) {
  if (!error) return null;
  return (
    <p class="form-error" role="alert">
      {error}
    </p>
  );
}
