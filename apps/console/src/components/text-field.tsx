import { Field } from "./field";

/** A labelled text input (a Field around an `<input>`) whose value is a string kept by the caller. */
export function TextField({
  label,
  value,
  onChange,
  type,
  required,
  maxLength,
  placeholder,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  type?: "text" | "datetime-local";
  required?: boolean;
  maxLength?: number;
  placeholder?: string;
}) {
  return (
    <Field label={label}>
      {(id) => (
        <input
          id={id}
          type={type}
          value={value}
          onChange={(event) => onChange(event.target.value)}
          required={required}
          maxLength={maxLength}
          placeholder={placeholder}
        />
      )}
    </Field>
  );
}
