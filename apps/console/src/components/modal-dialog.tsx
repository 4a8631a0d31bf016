import { useEffect, useId, useRef, type ReactNode } from "react";

/**
 * A modal `<dialog>`: opened with showModal() (focus moves into it and the page behind is inert), Escape
 * closes it through `onClose`, and focus goes back to what had it before.
 */
export function ModalDialog({
  open,
  title,
  onClose,
  children,
  wide = false,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
  wide?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (open && !element.open) {
      const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
      element.showModal();
      return () => {
        if (element.open) element.close();
        before?.focus();
      };
    }
    return undefined;
  }, [open]);
  return (
    <dialog
      ref={dialog}
      className={wide ? "dialog dialog-wide" : "dialog"}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      {open ? (
        <>
          <h2 id={titleId} className="dialog-title">
            {title}
          </h2>
          {children}
        </>
      ) : null}
    </dialog>
  );
}
