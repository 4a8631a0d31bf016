import { ConfirmDialog } from "./confirm-dialog";

/** The mutation a ConfirmItemDialog runs on its item's id (a TanStack Query mutation fits). */
export interface ItemMutation<Id> {
  isPending: boolean;
  error: unknown;
  mutate(id: Id, options: { onSuccess: () => void }): void;
}

/**
 * A ConfirmDialog for one item (a row to delete or revoke): open while `item` is set, runs `mutation` on its id
 * when confirmed and closes once it succeeded; the mutation's error is shown in it.
 */
export function ConfirmItemDialog<Item extends { id: Id; name: string }, Id>({
  item,
  title,
  message,
  confirmLabel,
  mutation,
  onClose,
}: {
  item: Item | null;
  title: string;
  message: (name: string) => string;
  confirmLabel: string;
  mutation: ItemMutation<Id>;
  onClose: () => void;
}) {
  return (
    <ConfirmDialog
      open={item !== null}
      title={title}
      message={message(item?.name ?? "")}
      confirmLabel={confirmLabel}
      busy={mutation.isPending}
      error={mutation.error}
      onCancel={onClose}
      onConfirm={() => item && mutation.mutate(item.id, { onSuccess: onClose })}
    />
  );
}
