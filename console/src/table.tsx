/** The console's data tables, written once: a caption, column headings, one row per item. */
import type { ComponentChildren } from 'preact';

/** One column: its heading and what a row shows in it. */
export interface Column<R> {
  head: string;
  cell(row: R): ComponentChildren;
}

/**
 * A table whose caption names it (the tests and screen readers find tables by it) and whose
 * headings are `scope="col"`. `rowData` gives each row's data-* attributes, which tests select
 * rows by. Falsy columns are left out, so a column shown only sometimes is `cond && { ... }`.
 */
export function Table<R>({
  caption,
  columns,
  rows,
  rowKey,
  rowData,
  class: cls,
}: {
  caption: ComponentChildren;
  columns: ReadonlyArray<Column<R> | false | null | undefined>;
  rows: readonly R[];
  rowKey(row: R, index: number): string | number;
  rowData?(row: R): Record<`data-${string}`, string>;
  class?: string;
}) {
  const shown = columns.filter((c): c is Column<R> => !!c);
  return (
    <table class={cls}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          {shown.map((c) => (
            <th key={c.head} scope="col">
              {c.head}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={rowKey(r, i)} {...rowData?.(r)}>
            {shown.map((c) => (
              <td key={c.head}>{c.cell(r)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
