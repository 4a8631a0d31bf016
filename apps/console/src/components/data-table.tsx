import type { ReactNode } from "react";

/** A table's column: its header, and whether it holds numbers (right-aligned). */
export interface DataTableColumn {
  label: string;
  number?: boolean;
}

/** A scrolling table with one header row of column headers (`scope="col"`); the rows are its children. */
export function DataTable({ columns, children }: { columns: readonly DataTableColumn[]; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table className="table">
        <thead>
          <tr>
            {columns.map((column) => (
              <th key={column.label} scope="col" className={column.number ? "number" : undefined}>
                {column.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
