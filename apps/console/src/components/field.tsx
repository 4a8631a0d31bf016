import { useId, type ReactNode } from "react";

/**
 * A labelled control: `<label for>` rather than a wrapping label, so the control's accessible name is the
 * label alone (a wrapping label would add the control's value: "Platform claude").
 */
export function Field({
  label,
  className = "field",
  children,
}: {
  label: string;
  className?: string;
  children: (id: string) => ReactNode;
}) {
  const id = useId();
  return (
    <div className={className}>
      <label htmlFor={id}>{label}</label>
      {children(id)}
    </div>
  );
}
