/** The app's mark (the same drawing as the icons in icons/). */
import type { JSX } from "preact";

export function Logo({ size = 32 }: { size?: number }): JSX.Element {
  return (
    <svg class="logo" width={size} height={size} viewBox="0 0 64 64" aria-hidden="true" focusable="false">
      <rect width="64" height="64" rx="15" class="logo__bg" />
      <rect x="20" y="10" width="24" height="44" rx="12" class="logo__body" />
      <circle cx="32" cy="23" r="5.5" class="logo__lens" />
      <circle cx="32" cy="41" r="7" class="logo__button" />
    </svg>
  );
}
