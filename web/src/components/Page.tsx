/** A screen's heading (focused on arrival, for screen readers) with an optional way back and actions. */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { Link } from "../router";
import { BackIcon } from "./icons";

export function PageHeader(props: {
  title: string;
  back?: { href: string; label: string };
  children?: ComponentChildren;
  sub?: ComponentChildren;
}): JSX.Element {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · Doorbell`;
  }, [props.title]);
  useEffect(() => {
    // Move focus to the new screen's heading after a client-side navigation (not on first load).
    if (document.activeElement && document.activeElement !== document.body) ref.current?.focus({ preventScroll: true });
  }, []);
  return (
    <div class="page-header">
      {props.back && (
        <Link class="back-link" href={props.back.href}>
          <BackIcon size={18} />
          {props.back.label}
        </Link>
      )}
      <div class="page-header__row">
        <div>
          <h1 tabIndex={-1} ref={ref}>
            {props.title}
          </h1>
          {props.sub && <div class="page-header__sub">{props.sub}</div>}
        </div>
        {props.children && <div class="page-header__actions">{props.children}</div>}
      </div>
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }): JSX.Element {
  return (
    <p class="loading" role="status">
      <span class="spinner" aria-hidden="true" /> {label}
    </p>
  );
}
